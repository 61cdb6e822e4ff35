use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> conv(8, padding = "valid") -> global_avg_pool -> dense(10)
}

fn main() {}
