use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> conv(8.0, kernel = 3.0) -> global_avg_pool -> dense(10)
}

fn main() {}
