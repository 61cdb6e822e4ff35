use lightlayers::prelude::*;

network! {
    pub Net<const K: usize> = input(1, 28, 28) -> light_conv(8, k = k) -> global_avg_pool -> dense(10)
}

fn main() {}
