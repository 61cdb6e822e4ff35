use lightlayers::prelude::*;

network! {
    // a strided main branch halves the map, the identity shortcut does not
    pub Net = input(1, 28, 28) -> conv(8)
        -> residual(conv(8, stride = 2) -> bn)
        -> global_avg_pool -> dense(10)
}

fn main() {}
