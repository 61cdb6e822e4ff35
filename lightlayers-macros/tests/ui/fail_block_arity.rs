use lightlayers::prelude::*;

network! {
    block down(f) = conv(f) -> bn -> relu -> max_pool(2);

    pub Net = input(1, 28, 28) -> down(8, 16) -> global_avg_pool -> dense(10)
}

fn main() {}
