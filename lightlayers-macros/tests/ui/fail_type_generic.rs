use lightlayers::prelude::*;

network! {
    pub Net<T> = input(1, 28, 28) -> conv(8) -> global_avg_pool -> dense(10)
}

fn main() {}
