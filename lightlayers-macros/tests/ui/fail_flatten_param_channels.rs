use lightlayers::prelude::*;

network! {
    pub Net<const F: usize> = input(1, 28, 28) -> conv(F) -> flatten -> dense(10)
}

fn main() {}
