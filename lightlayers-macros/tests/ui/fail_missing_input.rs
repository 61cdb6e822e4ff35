use lightlayers::prelude::*;

network! {
    pub Net = conv(8) -> global_avg_pool -> dense(10);
}

fn main() {}
