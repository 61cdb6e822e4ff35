use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> light_conv(8, k = 0) -> global_avg_pool -> dense(10)
}

fn main() {}
