use lightlayers::prelude::*;

network! {
    // the main branch widens 8 → 16 channels, the identity shortcut keeps 8
    pub Net = input(1, 28, 28) -> conv(8)
        -> residual(conv(16) -> bn)
        -> global_avg_pool -> dense(10)
}

fn main() {}
