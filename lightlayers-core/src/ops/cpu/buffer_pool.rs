//! Recycled scratch buffers, so a training step allocates (and page-faults) nothing once warm.

use std::sync::Mutex;

use crate::Element;

/// Buffers kept for reuse per element type, largest first.
pub(crate) struct BufferPool<E> {
    free: Mutex<Vec<Vec<E>>>,
}

/// At most this many buffers are kept; the rest are freed.
const MAX_KEPT: usize = 256;

impl<E: Element> BufferPool<E> {
    pub(crate) const fn new() -> Self {
        Self {
            free: Mutex::new(Vec::new()),
        }
    }

    /// A buffer of exactly `len` elements with unspecified contents (zeroed when fresh).
    pub(crate) fn take(&self, len: usize) -> Vec<E> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        // best fit: the smallest buffer that is large enough
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let mut buf = free.swap_remove(i);
                drop(free);
                buf.resize(len, E::zero());
                buf.truncate(len);
                buf
            }
            None => {
                drop(free);
                vec![E::zero(); len]
            }
        }
    }

    /// A zero-filled buffer of `len` elements.
    pub(crate) fn zeroed(&self, len: usize) -> Vec<E> {
        let mut buf = self.take(len);
        buf.fill(E::zero());
        buf
    }

    /// Returns a buffer for reuse.
    pub(crate) fn give(&self, buf: Vec<E>) {
        if buf.capacity() == 0 {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < MAX_KEPT {
            free.push(buf);
        }
    }
}

/// The process-wide pool for `E`.
pub(crate) fn pool<E: Element>() -> &'static BufferPool<E> {
    use std::any::Any;
    static F32: BufferPool<f32> = BufferPool::new();
    static F64: BufferPool<f64> = BufferPool::new();
    let any: &'static dyn Any = if std::any::TypeId::of::<E>() == std::any::TypeId::of::<f32>() {
        &F32
    } else {
        &F64
    };
    any.downcast_ref::<BufferPool<E>>()
        .expect("Element is f32 or f64")
}
