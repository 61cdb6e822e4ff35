use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> conv(8) -> relu -> max_pool(2)
}

fn main() {}
