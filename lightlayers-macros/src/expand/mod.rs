//! Code generation: the network type, its model struct and their trait impls.

mod forward;
mod types;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

pub use self::forward::{stages, Forward, Mode};
pub use self::types::Paths;
use self::types::{builder_type, dims, mac_count, module_type};
use crate::checks::{Checked, CheckedNetwork};

/// Every checked layer in execution order, residual branches included.
fn flatten(layers: &[Checked]) -> Vec<&Checked> {
    let mut out = Vec::new();
    for layer in layers {
        for branch in &layer.branches {
            out.extend(flatten(branch));
        }
        out.push(layer);
    }
    out
}

/// Groups field items into nested tuples of at most six (dfdx implements its field traits
/// for tuples up to six).
fn nest(items: Vec<TokenStream>) -> TokenStream {
    if items.len() <= 6 {
        return quote!((#(#items,)*));
    }
    let groups: Vec<TokenStream> = items.chunks(6).map(|c| nest(c.to_vec())).collect();
    nest(groups)
}

/// The whole expansion of one network.
pub fn expand(net: &CheckedNetwork) -> TokenStream {
    let p = Paths::new();
    let Paths { private, dfdx } = &p;
    let n = &net.network;
    let attrs = &n.attrs;
    let vis = &n.vis;
    let name = &n.name;
    let model = format_ident!("{}Model", name);
    let consts = &n.const_params;
    let const_decl = quote!(#(const #consts: usize,)*);
    let const_args = quote!(#(#consts,)*);
    let name_str = name.to_string();

    let all = flatten(&net.layers);
    let with_params: Vec<&Checked> = all
        .iter()
        .copied()
        .filter(|l| module_type(&p, l).is_some())
        .collect();
    let fields: Vec<Ident> = with_params
        .iter()
        .map(|l| Ident::new(&l.name, Span::call_site()))
        .collect();
    let field_types: Vec<TokenStream> = with_params
        .iter()
        .map(|l| module_type(&p, l).expect("filtered"))
        .collect();
    let builders: Vec<TokenStream> = with_params
        .iter()
        .map(|l| builder_type(&p, l).expect("filtered"))
        .collect();
    let macs: Vec<TokenStream> = with_params
        .iter()
        .map(|l| mac_count(&p, l).expect("filtered"))
        .collect();
    let field_names: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let marker = fields
        .is_empty()
        .then(|| quote!(_device: ::core::marker::PhantomData<fn() -> (E, D)>,));
    let marker_init = fields
        .is_empty()
        .then(|| quote!(_device: ::core::marker::PhantomData,));

    let field_items: Vec<TokenStream> = fields
        .iter()
        .zip(&field_names)
        .map(|(f, s)| quote!(Self::module(#s, |s| &s.#f, |s| &mut s.#f)))
        .collect();
    let field_tuple = nest(field_items);
    let field_pattern = nest(fields.iter().map(|f| quote!(#f)).collect());

    let input = &n.input;
    let (in_c, in_h, in_w) = (input.channels.expr(), input.height, input.width);
    let in_c_ty = input.channels.const_type(dfdx);
    let classes = net.classes.expr();
    let classes_ty = net.classes.const_type(dfdx);
    let input_shape =
        quote!((B, #in_c_ty, #dfdx::shapes::Const<#in_h>, #dfdx::shapes::Const<#in_w>));
    let output_shape = quote!((B, #classes_ty));

    let infer = forward::chain(&p, &net.layers, Mode::Infer);
    let train = forward::chain(&p, &net.layers, Mode::Train);
    let input_gradient = p.input_gradient();
    let last = &net
        .layers
        .last()
        .expect("checks reject empty networks")
        .layer;
    let finish = match last.def.finish {
        Some(finish) => finish(&p),
        None => quote!(::core::result::Result::Ok(x)),
    };

    let penalties: Vec<TokenStream> = with_params
        .iter()
        .zip(&fields)
        .filter(|(l, _)| l.layer.def.penalty)
        .map(|(_, f)| quote!(let total = #private::add_penalty(total, self.#f.try_penalty()?)?;))
        .collect();
    let configure: Vec<TokenStream> = with_params
        .iter()
        .zip(&fields)
        .filter_map(|(l, f)| Some((l.layer.def.configure?)(&l.layer, &quote!(model.#f))))
        .collect();

    let rows: Vec<TokenStream> = all
        .iter()
        .map(|l| {
            let row_name = &l.name;
            let kind = l.layer.def.kind;
            let shape = dims(&l.output);
            let params = match builder_type(&p, l) {
                Some(b) => quote!(<#b as #private::ParamCount>::TOTAL),
                None => quote!(0),
            };
            let macs = mac_count(&p, l).unwrap_or_else(|| quote!(0));
            quote!(#private::SummaryRow::new(#row_name, #kind, #shape, #params, #macs))
        })
        .collect();
    let title = if consts.is_empty() {
        quote!(#private::ToString::to_string(#name_str))
    } else {
        let pattern = format!(
            "{}<{}>",
            name_str,
            consts
                .iter()
                .map(|c| format!("{c} = {{}}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        quote!(#private::format!(#pattern, #(#consts),*))
    };
    let checks: Vec<TokenStream> = consts
        .iter()
        .map(|c| {
            let msg = format!("{name_str}: `{c}` is a size and must be at least 1");
            quote!(::core::assert!(#c > 0, #msg);)
        })
        .collect();
    let model_doc = format!(
        "The dfdx model [`{name_str}`] builds: one field per layer with parameters (named as in \
         [`{name_str}::summary`](lightlayers::Network::summary)), forward as declared."
    );

    quote! {
        #(#attrs)*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        #vis struct #name<#const_decl>;

        #[doc = #model_doc]
        #[derive(Debug, Clone)]
        #vis struct #model<#const_decl E: #dfdx::shapes::Dtype, D: #dfdx::tensor::Storage<E>> {
            #(
                #[doc = concat!("Layer `", #field_names, "`.")]
                pub #fields: #field_types,
            )*
            #marker
        }

        impl<#const_decl> #name<#const_args> {
            /// Post-monomorphization checks of the const parameters.
            const __CHECKS: () = { #(#checks)* };
        }

        impl<#const_decl E: #private::Element, D: #dfdx::tensor_ops::Device<E>>
            #dfdx::nn::TensorCollection<E, D> for #model<#const_args E, D>
        {
            type To<E2: #dfdx::shapes::Dtype, D2: #dfdx::tensor_ops::Device<E2>> = #model<#const_args E2, D2>;

            fn iter_tensors<V: #dfdx::nn::ModuleVisitor<Self, E, D>>(
                visitor: &mut V,
            ) -> #private::Result<::core::option::Option<Self::To<V::E2, V::D2>>, V::Err> {
                visitor.visit_fields(
                    #field_tuple,
                    |#field_pattern| #model { #(#fields,)* #marker_init },
                )
            }
        }

        impl<#const_decl E: #private::Element, D: #private::Backend<E>> #model<#const_args E, D> {
            /// Inference: class scores (before any final softmax), batch norm on its moving
            /// statistics.
            pub fn try_forward_logits<B: #dfdx::shapes::Dim>(
                &self,
                x: #dfdx::tensor::Tensor<#input_shape, E, D>,
            ) -> #private::Result<#dfdx::tensor::Tensor<#output_shape, E, D>, D::Err> {
                #infer
                ::core::result::Result::Ok(x)
            }

            /// Training: class scores (before any final softmax) on the tape, batch norm on
            /// batch statistics, updating its moving ones.
            pub fn try_forward_logits_mut<B: #dfdx::shapes::Dim>(
                &mut self,
                x: #dfdx::tensor::Tensor<#input_shape, E, D, #dfdx::tensor::OwnedTape<E, D>>,
            ) -> #private::Result<
                #dfdx::tensor::Tensor<#output_shape, E, D, #dfdx::tensor::OwnedTape<E, D>>,
                D::Err,
            > {
                self.try_forward_logits_train(x, #input_gradient::Computed)
            }

            /// [`Self::try_forward_logits_mut`], saying whether the gradient with respect to
            /// `x` is wanted: a training step's images need none, and the CPU then skips the
            /// first layers' input-gradient work (the gradient of `x` stays zero).
            pub fn try_forward_logits_train<B: #dfdx::shapes::Dim>(
                &mut self,
                x: #dfdx::tensor::Tensor<#input_shape, E, D, #dfdx::tensor::OwnedTape<E, D>>,
                input_gradient: #input_gradient,
            ) -> #private::Result<
                #dfdx::tensor::Tensor<#output_shape, E, D, #dfdx::tensor::OwnedTape<E, D>>,
                D::Err,
            > {
                let _ = input_gradient;
                #train
                ::core::result::Result::Ok(x)
            }
        }

        impl<#const_decl E: #private::Element, D: #private::Backend<E>, B: #dfdx::shapes::Dim>
            #dfdx::nn::Module<#dfdx::tensor::Tensor<#input_shape, E, D>> for #model<#const_args E, D>
        {
            type Output = #dfdx::tensor::Tensor<#output_shape, E, D>;
            type Error = D::Err;

            fn try_forward(
                &self,
                x: #dfdx::tensor::Tensor<#input_shape, E, D>,
            ) -> #private::Result<Self::Output, D::Err> {
                let x = self.try_forward_logits(x)?;
                #finish
            }
        }

        impl<#const_decl E: #private::Element, D: #private::Backend<E>, B: #dfdx::shapes::Dim>
            #dfdx::nn::ModuleMut<#dfdx::tensor::Tensor<#input_shape, E, D, #dfdx::tensor::OwnedTape<E, D>>>
            for #model<#const_args E, D>
        {
            type Output = #dfdx::tensor::Tensor<#output_shape, E, D, #dfdx::tensor::OwnedTape<E, D>>;
            type Error = D::Err;

            fn try_forward_mut(
                &mut self,
                x: #dfdx::tensor::Tensor<#input_shape, E, D, #dfdx::tensor::OwnedTape<E, D>>,
            ) -> #private::Result<Self::Output, D::Err> {
                let x = self.try_forward_logits_mut(x)?;
                #finish
            }
        }

        impl<#const_decl E: #private::Element, D: #private::Backend<E>>
            #private::NetworkModel<#name<#const_args>, E, D> for #model<#const_args E, D>
        {
            fn try_logits(
                &self,
                x: #private::lightlayers_core::Images<#name<#const_args>, E, D>,
            ) -> #private::Result<#private::lightlayers_core::Logits<#name<#const_args>, E, D>, D::Err> {
                self.try_forward_logits(x)
            }

            fn try_logits_train(
                &mut self,
                x: #private::lightlayers_core::Images<#name<#const_args>, E, D, #dfdx::tensor::OwnedTape<E, D>>,
            ) -> #private::Result<
                #private::lightlayers_core::Logits<#name<#const_args>, E, D, #dfdx::tensor::OwnedTape<E, D>>,
                D::Err,
            > {
                self.try_forward_logits_train(x, #input_gradient::Skipped)
            }

            fn try_penalty(
                &self,
            ) -> #private::Result<
                ::core::option::Option<#dfdx::tensor::Tensor<#dfdx::shapes::Rank0, E, D, #dfdx::tensor::OwnedTape<E, D>>>,
                D::Err,
            > {
                let total = ::core::option::Option::None;
                #(#penalties)*
                ::core::result::Result::Ok(total)
            }
        }

        impl<#const_decl E: #private::Element, D: #private::Backend<E>> #dfdx::nn::BuildOnDevice<D, E>
            for #name<#const_args>
        {
            type Built = #model<#const_args E, D>;

            #[allow(unused_mut)]
            fn try_build_on_device(device: &D) -> #private::Result<Self::Built, D::Err> {
                #[allow(clippy::let_unit_value)]
                let () = Self::__CHECKS;
                let mut model = <Self::Built as #dfdx::nn::BuildModule<D, E>>::try_build(device)?;
                #(#configure)*
                ::core::result::Result::Ok(model)
            }
        }

        impl<#const_decl> #private::Network for #name<#const_args> {
            type Channels = #in_c_ty;
            type Height = #dfdx::shapes::Const<#in_h>;
            type Width = #dfdx::shapes::Const<#in_w>;
            type Classes = #classes_ty;
            type Model<E: #private::Element, D: #private::Backend<E>> = #model<#const_args E, D>;

            const NAME: &'static str = #name_str;
            const INPUT_SHAPE: [usize; 3] = [#in_c, #in_h, #in_w];
            const CLASSES: usize = #classes;
            const TRAINABLE_PARAMS: usize = 0 #(+ <#builders as #private::ParamCount>::TRAINABLE)*;
            const NON_TRAINABLE_PARAMS: usize = 0 #(+ <#builders as #private::ParamCount>::NON_TRAINABLE)*;
            const MACS: usize = 0 #(+ #macs)*;

            fn summary() -> #private::Summary {
                #private::Summary {
                    name: #title,
                    input: [#in_c, #in_h, #in_w],
                    rows: #private::vec![#(#rows),*],
                    trainable: <Self as #private::Network>::TRAINABLE_PARAMS,
                    non_trainable: <Self as #private::Network>::NON_TRAINABLE_PARAMS,
                }
            }

            fn try_build<E: #private::Element, D: #private::Backend<E>>(
                device: &D,
            ) -> #private::Result<Self::Model<E, D>, D::Err> {
                <Self as #dfdx::nn::BuildOnDevice<D, E>>::try_build_on_device(device)
            }
        }
    }
}
