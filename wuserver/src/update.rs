//! The weather update, written as the guide's C writes it with `"%05d %d %d"`:
//! millions of times a second, so the digits are written by hand into a
//! reused buffer rather than by `format!` into a new `String` each time.

/// Room for the longest update [`write`] can write: three numbers of up to
/// ten digits, a minus sign and two spaces.
pub const CAPACITY: usize = 34;

/// Writes an update as C's `"%05d %d %d"` would, into `buffer`, and returns
/// the bytes written.
pub fn write(buffer: &mut [u8; CAPACITY], zipcode: u32, temperature: i32, humidity: u32) -> &[u8] {
    let mut end = write_decimal(buffer, 0, zipcode, 5);
    buffer[end] = b' ';
    // The minus sign is always written, and kept only for a negative
    // temperature: cheaper than a branch the processor cannot predict.
    buffer[end + 1] = b'-';
    end += 1 + usize::from(temperature < 0);
    end = write_decimal(buffer, end, temperature.unsigned_abs(), 1);
    buffer[end] = b' ';
    end += 1;
    end = write_decimal(buffer, end, humidity, 1);
    &buffer[..end]
}

/// "00" to "99": two digits per division halves the work of printing a
/// number.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut number = 0;
    while number < 100 {
        pairs[number] = [b'0' + (number / 10) as u8, b'0' + (number % 10) as u8];
        number += 1;
    }
    pairs
};

/// Writes `value` in decimal at `buffer[start..]`, padded with zeros to at
/// least `width` digits, and returns where it ended.
fn write_decimal(buffer: &mut [u8], start: usize, value: u32, width: usize) -> usize {
    let digits = value.checked_ilog10().map_or(1, |log| log as usize + 1);
    let end = start + digits.max(width);
    // Last digits first; once the value runs out, the rest is zero padding.
    let mut rest = value;
    let mut at = end;
    while at - start >= 2 {
        buffer[at - 2..at].copy_from_slice(&DIGIT_PAIRS[(rest % 100) as usize]);
        rest /= 100;
        at -= 2;
    }
    if at > start {
        buffer[start] = b'0' + (rest % 10) as u8;
    }
    end
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    fn update(zipcode: u32, temperature: i32, humidity: u32) -> String {
        let mut buffer = [0; CAPACITY];
        let bytes = write(&mut buffer, zipcode, temperature, humidity);
        String::from_utf8(bytes.to_vec()).expect("digits are ASCII")
    }

    #[test]
    fn zip_codes_are_padded_to_five_digits() {
        assert_eq!(update(0, 0, 10), "00000 0 10");
        assert_eq!(update(7, 21, 45), "00007 21 45");
        assert_eq!(update(1001, 21, 45), "01001 21 45");
        assert_eq!(update(10001, 21, 45), "10001 21 45");
    }

    #[test]
    fn negative_temperatures_have_a_minus_sign() {
        assert_eq!(update(10001, -1, 50), "10001 -1 50");
        assert_eq!(update(10001, -80, 50), "10001 -80 50");
    }

    #[test]
    fn the_extremes_of_the_guides_ranges() {
        assert_eq!(update(0, -80, 10), "00000 -80 10");
        assert_eq!(update(99999, 134, 59), "99999 134 59");
    }

    #[test]
    fn the_extremes_of_the_types_fit() {
        assert_eq!(
            update(u32::MAX, i32::MIN, u32::MAX),
            "4294967295 -2147483648 4294967295"
        );
        assert_eq!(update(123456, i32::MAX, 0), "123456 2147483647 0");
    }

    #[test]
    fn agrees_with_format_over_the_guides_ranges() {
        let mut random = SmallRng::seed_from_u64(1);
        for _ in 0..100_000 {
            let zipcode = random.random_range(0..100_000);
            let temperature = random.random_range(-80..=134);
            let humidity = random.random_range(10..=59);
            assert_eq!(
                update(zipcode, temperature, humidity),
                format!("{zipcode:05} {temperature} {humidity}")
            );
        }
    }
}
