use lightlayers::prelude::*;

network! {
    block down(f) = conv(f) -> max_pool(2);
}

fn main() {}
