//! Server-side context handles (C706 6.1.? "context handles", MS-RPCE 3.1.1.5.3.?): a typed
//! table per handle type, keyed by the handle's UUID and owned by an association group.
//!
//! A service keeps one [`HandleTable<T>`] per kind of handle it hands out. Because each table
//! holds one type, a handle of another type (or one invented by the peer) is simply not found:
//! [`HandleTable::with`] refuses it with `nca_s_fault_context_mismatch` (0x1c00001a), as Windows does. A handle
//! belongs to the association group it was created in; the same UUID presented on another
//! group is refused too. When a group's last connection goes, the runtime calls the service's
//! `rundown(group)`, which calls [`HandleTable::rundown`] to take back (and drop, or clean up)
//! every value the group still held.

use std::collections::HashMap;
use std::sync::Mutex;

use msrpc_ndr::{ContextHandle, Uuid};

use crate::dispatch::RpcFault;
use crate::pdu::FaultStatus;

/// Why a handle operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// Unknown handle, a handle of another type, or one from another association group.
    #[error("unknown or foreign context handle")]
    Mismatch,
    /// The group holds as many handles as the table allows.
    #[error("too many context handles in this association group")]
    TooMany,
}

impl From<HandleError> for RpcFault {
    fn from(e: HandleError) -> RpcFault {
        match e {
            HandleError::Mismatch => RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH),
            HandleError::TooMany => RpcFault(FaultStatus::OUT_OF_MEMORY),
        }
    }
}

struct Entry<T> {
    group: u32,
    value: T,
}

/// Live context handles of one type.
pub struct HandleTable<T> {
    entries: Mutex<HashMap<Uuid, Entry<T>>>,
    max_per_group: usize,
}

impl<T> std::fmt::Debug for HandleTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandleTable")
            .field("live", &self.len())
            .field("max_per_group", &self.max_per_group)
            .finish()
    }
}

impl<T> Default for HandleTable<T> {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl<T> HandleTable<T> {
    /// An empty table allowing `max_per_group` live handles per association group.
    pub fn new(max_per_group: usize) -> Self {
        HandleTable {
            entries: Mutex::new(HashMap::new()),
            max_per_group,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry<T>>> {
        match self.entries.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Stores `value` for association group `group` and returns its new handle.
    pub fn create(&self, group: u32, value: T) -> Result<ContextHandle, HandleError> {
        let mut map = self.lock();
        if map.values().filter(|e| e.group == group).count() >= self.max_per_group {
            return Err(HandleError::TooMany);
        }
        let mut uuid = Uuid::new_v4();
        while uuid.is_nil() || map.contains_key(&uuid) {
            uuid = Uuid::new_v4();
        }
        map.insert(uuid, Entry { group, value });
        Ok(ContextHandle {
            attributes: 0,
            uuid,
        })
    }

    /// Runs `f` on the value of `handle`, if it belongs to `group`.
    pub fn with<R>(
        &self,
        group: u32,
        handle: &ContextHandle,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, HandleError> {
        let mut map = self.lock();
        match map.get_mut(&handle.uuid) {
            Some(e) if e.group == group && !handle.is_null() => Ok(f(&mut e.value)),
            _ => Err(HandleError::Mismatch),
        }
    }

    /// Closes `handle` (if it belongs to `group`) and returns its value.
    pub fn close(&self, group: u32, handle: &ContextHandle) -> Result<T, HandleError> {
        let mut map = self.lock();
        match map.get(&handle.uuid) {
            Some(e) if e.group == group => {}
            _ => return Err(HandleError::Mismatch),
        }
        map.remove(&handle.uuid)
            .map(|e| e.value)
            .ok_or(HandleError::Mismatch)
    }

    /// Removes and returns every value association group `group` still holds.
    pub fn rundown(&self, group: u32) -> Vec<T> {
        let mut map = self.lock();
        let ids: Vec<Uuid> = map
            .iter()
            .filter(|(_, e)| e.group == group)
            .map(|(k, _)| *k)
            .collect();
        ids.into_iter()
            .filter_map(|k| map.remove(&k).map(|e| e.value))
            .collect()
    }

    /// Live handles in all groups.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no handle is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_typed_grouped_and_run_down() {
        let a: HandleTable<String> = HandleTable::new(2);
        let b: HandleTable<u32> = HandleTable::default();
        let h = a.create(1, "x".into()).unwrap();
        assert!(!h.is_null());
        assert_eq!(a.with(1, &h, |v| v.clone()).unwrap(), "x");
        // another group, another table, the null handle, an invented handle
        assert_eq!(a.with(2, &h, |_| ()), Err(HandleError::Mismatch));
        assert_eq!(b.with(1, &h, |_| ()), Err(HandleError::Mismatch));
        assert_eq!(
            a.with(1, &ContextHandle::NULL, |_| ()),
            Err(HandleError::Mismatch)
        );
        let invented = ContextHandle {
            attributes: 0,
            uuid: Uuid::from_u128(5),
        };
        assert_eq!(a.with(1, &invented, |_| ()), Err(HandleError::Mismatch));
        assert_eq!(
            RpcFault::from(HandleError::Mismatch),
            RpcFault(FaultStatus::NCA_S_FAULT_CONTEXT_MISMATCH)
        );
        // per-group limit
        a.create(1, "y".into()).unwrap();
        assert_eq!(a.create(1, "z".into()), Err(HandleError::TooMany));
        let other = a.create(2, "w".into()).unwrap();
        // rundown of group 1 takes back its two values, group 2 stays
        let mut gone = a.rundown(1);
        gone.sort();
        assert_eq!(gone, ["x", "y"]);
        assert_eq!(a.len(), 1);
        assert_eq!(a.close(1, &other), Err(HandleError::Mismatch));
        assert_eq!(a.close(2, &other).unwrap(), "w");
        assert!(a.is_empty());
    }
}
