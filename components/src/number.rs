//! Decimal number formatting for the hot paths (markers, keys, binding values, batch encoding).

/// The two-digit decimal strings `00` to `99`, back to back.
const DIGIT_PAIRS: &str = {
    const BYTES: [u8; 200] = {
        let mut bytes = [0u8; 200];
        let mut i = 0;
        while i < 100 {
            bytes[2 * i] = b'0' + (i / 10) as u8;
            bytes[2 * i + 1] = b'0' + (i % 10) as u8;
            i += 1;
        }
        bytes
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("ASCII digits"),
    }
};

/// Appends `n` in decimal. Markers, keys and binding values are written for every row of a large
/// list, and `write!` spends several times longer in the formatting machinery than on the digits.
#[inline]
pub(crate) fn push_u32(out: &mut String, n: u32) {
    push_u64(out, n as u64);
}

/// Appends `n` in decimal, two digits at a time.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut pairs = [0u8; 10];
    let mut count = 0;
    while n >= 100 {
        pairs[count] = (n % 100) as u8;
        n /= 100;
        count += 1;
    }
    let lead = n as usize;
    if lead >= 10 {
        out.push_str(&DIGIT_PAIRS[2 * lead..2 * lead + 2]);
    } else {
        out.push(char::from(b'0' + lead as u8));
    }
    for &pair in pairs[..count].iter().rev() {
        let at = 2 * pair as usize;
        out.push_str(&DIGIT_PAIRS[at..at + 2]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_numbers() {
        for n in [0, 7, 10, 99, 100, 101, 1000, 1019, 12345, 100000, u32::MAX] {
            let mut out = String::from("x");
            push_u32(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
        let mut out = String::new();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string());
    }
}
