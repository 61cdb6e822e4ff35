use lightlayers::prelude::*;

network! {
    // `R` is not declared: the network has no generics
    pub Net = input(1, 28, 28) -> light_conv(8, k = R) -> global_avg_pool -> dense(10)
}

fn main() {}
