use lightlayers::prelude::*;

network! {
    // the even kernel is wrong in the block; the note says which use expanded it
    block pair(f) = conv(f, kernel = 2) -> relu;

    pub Net = input(1, 28, 28) -> pair(8) -> global_avg_pool -> dense(10)
}

fn main() {}
