//! A value a wgpu callback delivers (a buffer mapping, submitted work done), as a future: the
//! callback stores it and wakes the waiter. Natively the callbacks run inside a device poll;
//! in a browser they run when the page's promise resolves, so awaiting is the only way.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// One value of type `T`, set once by [`Signal::finish`], awaited by whoever holds a clone.
pub(crate) struct Signal<T> {
    state: Arc<Mutex<(Option<T>, Option<Waker>)>>,
}

impl<T> Clone for Signal<T> {
    fn clone(&self) -> Self {
        Signal {
            state: self.state.clone(),
        }
    }
}

impl<T> Default for Signal<T> {
    fn default() -> Self {
        Signal {
            state: Arc::new(Mutex::new((None, None))),
        }
    }
}

impl<T> Signal<T> {
    pub fn finish(&self, v: T) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = Some(v);
        if let Some(w) = s.1.take() {
            w.wake();
        }
    }
}

impl<T> std::future::Future for Signal<T> {
    type Output = T;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match s.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
