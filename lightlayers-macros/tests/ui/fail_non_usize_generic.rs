use lightlayers::prelude::*;

network! {
    pub Net<const K: u32> = input(1, 28, 28) -> light_conv(8, k = K) -> global_avg_pool -> dense(10)
}

fn main() {}
