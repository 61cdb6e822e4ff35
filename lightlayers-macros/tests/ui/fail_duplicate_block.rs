use lightlayers::prelude::*;

network! {
    block down(f) = conv(f) -> max_pool(2);
    block down(f) = light_conv(f, k = 2) -> max_pool(2);

    pub Net = input(1, 28, 28) -> down(8) -> global_avg_pool -> dense(10)
}

fn main() {}
