//! The events enabled on one allocator: a fixed table, so enabling never allocates.
//!
//! An allocator has few listeners (its pin, perhaps a monitoring client); the table holds
//! [`MAX_EVENT_REGISTRATIONS`] of them and refuses more with [`Error::EventTableFull`]
//! (`STATUS_INSUFFICIENT_RESOURCES`). Registrations are keyed by the address of the `KSEVENTDATA`
//! given at enable, which is what `IOCTL_KS_DISABLE_EVENT` passes back.

use crate::error::Error;
use crate::requests::{AllocatorEvent, Notification};

/// The most events enabled at once on one allocator.
pub const MAX_EVENT_REGISTRATIONS: usize = 8;

/// One enabled event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    /// Which event.
    pub event: AllocatorEvent,
    /// The address of the `KSEVENTDATA` given at enable (the disable key).
    pub key: usize,
    /// The notification as the client gave it (the fallback disable key).
    pub notification: Notification,
    /// The `KEVENT` to signal.
    pub object: usize,
    /// Whether `object` was referenced from a handle and must be dereferenced when the
    /// registration goes away.
    pub referenced: bool,
}

/// The registrations of one allocator, kept at the front of a fixed array (so a FREE with no
/// event enabled looks at nothing).
#[derive(Debug, Clone, Default)]
pub struct EventTable {
    entries: [Option<Registration>; MAX_EVENT_REGISTRATIONS],
    /// `entries[..len]` are `Some`, the rest `None`.
    len: usize,
}

impl EventTable {
    /// An empty table.
    pub const fn new() -> EventTable {
        EventTable {
            entries: [None; MAX_EVENT_REGISTRATIONS],
            len: 0,
        }
    }

    fn registrations(&self) -> impl Iterator<Item = &Registration> {
        self.entries[..self.len].iter().flatten()
    }

    /// Adds a registration; refuses a key already enabled ([`Error::EventAlreadyEnabled`]) or a
    /// full table ([`Error::EventTableFull`]).
    pub fn add(&mut self, registration: Registration) -> Result<(), Error> {
        if self.registrations().any(|r| r.key == registration.key) {
            return Err(Error::EventAlreadyEnabled);
        }
        let free = self
            .entries
            .get_mut(self.len)
            .ok_or(Error::EventTableFull)?;
        *free = Some(registration);
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the registration enabled with the `KSEVENTDATA` at `key`, or failing
    /// that the first one enabled with `notification` ([`Error::EventNotEnabled`] if none).
    pub fn remove(
        &mut self,
        key: usize,
        notification: Option<Notification>,
    ) -> Result<Registration, Error> {
        let position = self
            .registrations()
            .position(|r| r.key == key)
            .or_else(|| {
                let wanted = notification?;
                self.registrations().position(|r| r.notification == wanted)
            })
            .ok_or(Error::EventNotEnabled)?;
        self.len -= 1;
        self.entries.swap(position, self.len);
        self.entries[self.len].take().ok_or(Error::EventNotEnabled)
    }

    /// Removes every registration and returns them (disable-all and close).
    pub fn take_all(&mut self) -> [Option<Registration>; MAX_EVENT_REGISTRATIONS] {
        self.len = 0;
        core::mem::replace(&mut self.entries, [None; MAX_EVENT_REGISTRATIONS])
    }

    /// The registrations of `event`.
    pub fn of(&self, event: AllocatorEvent) -> impl Iterator<Item = &Registration> {
        self.registrations().filter(move |r| r.event == event)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn registration(key: usize, event: AllocatorEvent) -> Registration {
        Registration {
            event,
            key,
            notification: Notification::EventObject { event: key + 1 },
            object: key + 1,
            referenced: false,
        }
    }

    #[test]
    fn add_find_remove() {
        let mut table = EventTable::new();
        table
            .add(registration(10, AllocatorEvent::FreeFrame))
            .unwrap();
        table
            .add(registration(20, AllocatorEvent::InternalFreeFrame))
            .unwrap();
        assert_eq!(
            table.add(registration(10, AllocatorEvent::InternalFreeFrame)),
            Err(Error::EventAlreadyEnabled)
        );
        assert_eq!(
            table
                .of(AllocatorEvent::FreeFrame)
                .map(|r| r.key)
                .sum::<usize>(),
            10
        );
        assert_eq!(table.remove(10, None).map(|r| r.object), Ok(11));
        assert_eq!(table.remove(10, None), Err(Error::EventNotEnabled));
        // A copied KSEVENTDATA (another address) still finds its registration by notification.
        let other = Some(Notification::EventObject { event: 5 });
        assert_eq!(table.remove(999, other), Err(Error::EventNotEnabled));
        let same = Some(Notification::EventObject { event: 21 });
        assert_eq!(table.remove(999, same).map(|r| r.key), Ok(20));
        assert_eq!(table.registrations().count(), 0);
        // Removing from the middle keeps the others findable.
        for key in [1, 2, 3] {
            table
                .add(registration(key, AllocatorEvent::FreeFrame))
                .unwrap();
        }
        assert_eq!(table.remove(1, None).map(|r| r.key), Ok(1));
        let mut left: Vec<usize> = table.of(AllocatorEvent::FreeFrame).map(|r| r.key).collect();
        left.sort_unstable();
        assert_eq!(left, [2, 3]);
        assert_eq!(table.remove(3, None).map(|r| r.key), Ok(3));
        assert_eq!(table.remove(2, None).map(|r| r.key), Ok(2));
        assert_eq!(table.of(AllocatorEvent::FreeFrame).count(), 0);
        assert_eq!(table.registrations().count(), 0);
    }

    #[test]
    fn the_table_is_bounded_and_take_all_empties_it() {
        let mut table = EventTable::new();
        for key in 0..MAX_EVENT_REGISTRATIONS {
            table
                .add(registration(key, AllocatorEvent::FreeFrame))
                .unwrap();
        }
        assert_eq!(
            table.add(registration(99, AllocatorEvent::FreeFrame)),
            Err(Error::EventTableFull)
        );
        let all = table.take_all();
        assert_eq!(all.iter().flatten().count(), MAX_EVENT_REGISTRATIONS);
        assert_eq!(table.registrations().count(), 0);
        table
            .add(registration(99, AllocatorEvent::FreeFrame))
            .unwrap();
    }
}
