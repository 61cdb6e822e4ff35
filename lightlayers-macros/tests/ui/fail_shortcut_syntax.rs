use lightlayers::prelude::*;

network! {
    pub Net = input(1, 28, 28) -> conv(8)
        -> residual(conv(16), shortcut = conv(16, kernel = 1))
        -> global_avg_pool -> dense(10)
}

fn main() {}
