//! The cap on long-lived streams (the dashboard's `/events`): each reader holds a
//! [`Subscription`] for as long as its stream lives.

use std::cell::Cell;
use std::rc::Rc;

/// How many streams one server has open, and how many it allows.
#[derive(Debug, Clone)]
pub struct Subscribers {
    open: Rc<Cell<usize>>,
    cap: usize,
}

/// One open stream; dropping it (the stream ended or its client left) frees its place.
#[derive(Debug)]
pub struct Subscription {
    open: Rc<Cell<usize>>,
}

impl Subscribers {
    pub fn new(cap: usize) -> Subscribers {
        Subscribers {
            open: Rc::new(Cell::new(0)),
            cap,
        }
    }

    /// A place for one more stream, or `None` when all are taken.
    pub fn subscribe(&self) -> Option<Subscription> {
        let open = self.open.get();
        if open >= self.cap {
            return None;
        }
        self.open.set(open + 1);
        Some(Subscription {
            open: Rc::clone(&self.open),
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.open.set(self.open.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_given_up_to_the_cap_and_freed_on_drop() {
        let subscribers = Subscribers::new(2);
        let first = subscribers.subscribe().expect("first");
        let _second = subscribers.subscribe().expect("second");
        assert!(subscribers.subscribe().is_none());
        drop(first);
        assert!(subscribers.subscribe().is_some());
    }
}
