use lightlayers::prelude::*;

network! {
    pub Net<const K: usize> = input(1, 28, 28)
        -> conv(8, stride = -1)
        -> light_conv(8, k = K, l2 = -1e-4)
        -> global_avg_pool -> dense(10)
}

fn main() {}
