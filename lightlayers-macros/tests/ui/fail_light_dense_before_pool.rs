use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> light_conv(8, k = 2) -> max_pool(2) -> light_dense(10, k = 8)
}

fn main() {}
