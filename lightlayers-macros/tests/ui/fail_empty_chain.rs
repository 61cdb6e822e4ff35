use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28);
}

fn main() {}
