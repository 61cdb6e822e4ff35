use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> conv(8) -> relu -> dense(10)
}

fn main() {}
