use lightlayers::prelude::*;

network! {
    block pair(f) = conv(f, strides = 2) -> relu;

    pub Net = input(1, 28, 28) -> pair(8) -> global_avg_pool -> dense(10)
}

fn main() {}
