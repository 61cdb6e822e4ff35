use lightlayers::prelude::*;

network! {
    // 4 → 2 → 1 → 0
    pub Net = input(1, 4, 4) -> conv(8) -> max_pool(2) -> max_pool(2) -> max_pool(2)
        -> global_avg_pool -> dense(10)
}

fn main() {}
