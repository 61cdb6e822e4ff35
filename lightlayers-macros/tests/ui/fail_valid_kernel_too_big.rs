use lightlayers::prelude::*;

network! {
    pub Plain = input(1, 4, 4) -> conv(8, kernel = 5, padding = valid) -> global_avg_pool -> dense(10);

    // light_conv applies its kernel twice: 5 → 1, too small for the second 5×5
    pub Light = input(1, 5, 5) -> conv(4, kernel = 1) -> light_conv(8, k = 2, padding = valid, kernel = 5)
        -> global_avg_pool -> dense(10)
}

fn main() {}
