use lightlayers::prelude::*;

network! {
    // names from Keras and PyTorch point to the DSL's own
    pub Net = input(1, 28, 28) -> conv(8) -> batch_norm -> relu -> maxpool2d(2)
        -> global_avg_pool -> linear(10)
}

fn main() {}
