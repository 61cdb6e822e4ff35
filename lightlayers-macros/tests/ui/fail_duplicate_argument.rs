use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> conv(8, kernel = 3, kernel = 5) -> global_avg_pool -> dense(10)
}

fn main() {}
