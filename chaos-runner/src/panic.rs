//! What a panicking thread said, for the message that replaces its crash (a
//! background activity's, a provider's, the continuous hypothesis's).

/// The panic's message, or a generic one when it carried none.
pub fn message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a thread panicked".to_string())
}
