//! One accumulator for every error of a `network!` invocation, as serde_derive's `Ctxt`: each
//! stage reports what it finds and carries on, so a user sees every problem at once, in the
//! order the macro met them (source order within a network).

use std::cell::RefCell;
use std::fmt::Display;

use proc_macro2::{Span, TokenStream};

/// The errors found so far. Shared by reference: stages and the closures inside them report
/// through `&Errors` without threading a `&mut` everywhere.
#[derive(Default)]
pub struct Errors {
    errors: RefCell<Vec<syn::Error>>,
}

/// How many errors had been reported at some point; see [`Errors::since`].
#[derive(Clone, Copy)]
pub struct Mark(usize);

impl Errors {
    /// Reports `error`.
    pub fn push(&self, error: syn::Error) {
        self.errors.borrow_mut().push(error);
    }

    /// Reports `message` at `span`.
    pub fn at(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// The current position, to ask later whether anything went wrong after it.
    pub fn mark(&self) -> Mark {
        Mark(self.errors.borrow().len())
    }

    /// True when an error was reported after `mark`.
    pub fn since(&self, mark: Mark) -> bool {
        self.errors.borrow().len() > mark.0
    }

    /// Adds a note at `span` to every error reported after `mark` (the call site of the block
    /// those errors were found in).
    pub fn note_since(&self, mark: Mark, span: Span, note: impl Display) {
        for error in &mut self.errors.borrow_mut()[mark.0..] {
            error.combine(syn::Error::new(span, format!("note: {note}")));
        }
    }

    /// The first message of each error, for tests.
    #[cfg(test)]
    pub fn messages(&self) -> Vec<String> {
        self.errors
            .borrow()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Every error as `compile_error!` invocations, in the order they were reported.
    pub fn into_compile_errors(self) -> TokenStream {
        self.errors
            .into_inner()
            .iter()
            .map(syn::Error::to_compile_error)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_go_to_the_errors_after_the_mark() {
        let errors = Errors::default();
        errors.at(Span::call_site(), "before");
        let mark = errors.mark();
        assert!(!errors.since(mark));
        errors.at(Span::call_site(), "inside");
        assert!(errors.since(mark));
        errors.note_since(mark, Span::call_site(), "in block `b` used here");
        let messages: Vec<Vec<String>> = errors
            .errors
            .borrow()
            .iter()
            .map(|e| e.clone().into_iter().map(|e| e.to_string()).collect())
            .collect();
        assert_eq!(
            messages,
            [
                vec!["before".to_string()],
                vec![
                    "inside".to_string(),
                    "note: in block `b` used here".to_string()
                ]
            ]
        );
    }
}
