use lightlayers::prelude::*;

network! {
    // kernel sides must be known while the macro computes shapes
    pub Net<const K: usize> = input(1, 28, 28) -> conv(8, kernel = K) -> global_avg_pool -> dense(10)
}

fn main() {}
