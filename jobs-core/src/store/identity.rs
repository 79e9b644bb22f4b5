//! Store ids: a random number drawn once when a store is created and kept in it, so processes
//! can tell whether they opened the same store however each spelled its location.

use super::StoreError;

/// A fresh random store id, from the operating system's random source: 128 bits, so two
/// stores never share one.
///
/// # Errors
/// The random source failed; `location` names the store being created.
pub(crate) fn random_store_id(location: &str) -> Result<u128, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| StoreError::Io {
        location: location.to_owned(),
        message: format!("cannot draw a random store id: {error}"),
    })?;
    Ok(u128::from_be_bytes(bytes))
}

/// How a store id is shown and compared: 32 lowercase hex digits.
pub(crate) fn format_store_id(id: u128) -> String {
    format!("{id:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_differ_between_draws() {
        let first = format_store_id(random_store_id("test").unwrap());
        let second = format_store_id(random_store_id("test").unwrap());
        assert_eq!(first.len(), 32);
        assert!(first.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{first}");
        assert_ne!(first, second);
        assert_eq!(format_store_id(1), "00000000000000000000000000000001");
    }
}
