use lightlayers::prelude::*;

network! {
    // every mistake the macro can see before shapes is reported at once
    pub Net = input(1, 28, 28) -> conv(8, stride = 0) -> rleu -> dense(10, k = 2)
}

fn main() {}
