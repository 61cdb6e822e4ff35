use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> conv(8) -> global_avg_pool -> conv(16) -> dense(10)
}

fn main() {}
