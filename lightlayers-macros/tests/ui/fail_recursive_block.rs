use lightlayers::prelude::*;

network! {
    block ping(f) = conv(f) -> pong(f);
    block pong(f) = relu -> ping(f);

    pub Net = input(1, 28, 28) -> ping(8) -> global_avg_pool -> dense(10)
}

fn main() {}
