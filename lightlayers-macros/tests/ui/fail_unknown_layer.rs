use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> ligth_conv(8, k = 2) -> global_avg_pool -> dense(10)
}

fn main() {}
