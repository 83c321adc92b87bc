//! How the client reads an update, and averages: not the lesson, so out of
//! `main`.

use zsource::Multipart;

/// An update is a dozen bytes: a longer message is skipped, with a warning.
const MAX_UPDATE_BYTES: usize = 256;

/// The temperature of an update, `"zipcode temperature humidity"`: three
/// whole numbers, in one frame of UTF-8 text. The text ends at the first
/// NUL, if there is one, as the guide's C client reads it: the C++ server
/// sends a 20-byte buffer holding a C string, and whatever follows its NUL
/// is leftover memory.
pub fn temperature(update: &Multipart) -> Result<i32, String> {
    let frame = update
        .single()
        .ok_or_else(|| format!("{} frames, expected one", update.frame_count()))?;
    if frame.len() > MAX_UPDATE_BYTES {
        return Err(format!(
            "{} bytes, more than {MAX_UPDATE_BYTES}",
            frame.len()
        ));
    }
    let text = zhelpers::c_text(frame).map_err(|_| "not UTF-8")?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [zipcode, temperature, humidity] = fields[..] else {
        return Err(format!("{} fields, expected three", fields.len()));
    };
    let number = |field: &str| {
        field
            .parse::<i32>()
            .map_err(|e| format!("{field:?} is not a whole number: {e}"))
    };
    number(zipcode)?;
    let temperature = number(temperature)?;
    number(humidity)?;
    Ok(temperature)
}

/// The average as the guide's C computes it: integer division, which
/// truncates toward zero.
pub fn average(total: i64, count: u32) -> i64 {
    total / i64::from(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_temperature_of_an_update() {
        assert_eq!(temperature(&Multipart::from("10001 23 45")), Ok(23));
        assert_eq!(temperature(&Multipart::from("00042 -80 10")), Ok(-80));
        // The guide's Python server does not pad zip codes.
        assert_eq!(temperature(&Multipart::from("42 134 59")), Ok(134));
    }

    #[test]
    fn reads_an_update_as_a_c_string() {
        // As the guide's C++ server sends it: 20 bytes, the rest leftovers.
        let cpp = b"10001 23 45\0\xaa\xaa\xaa\xaa\xaa\xaa\xaa\xaa";
        assert_eq!(temperature(&Multipart::from(&cpp[..])), Ok(23));
        assert_eq!(temperature(&Multipart::from(&b"10001 23 45\0"[..])), Ok(23));
        assert!(temperature(&Multipart::from(&b"\x0010001 23 45"[..])).is_err());
    }

    #[test]
    fn rejects_malformed_updates() {
        let malformed = [
            Multipart::from(""),
            Multipart::from("10001 hot humid"),
            Multipart::from("10001 23"),
            Multipart::from("10001 23 45 67"),
            Multipart::from("10001 99999999999 45"),
            Multipart::from(&b"10001 23 \xff"[..]),
            Multipart::new("10001 23 45").with("extra"),
            Multipart::from(format!("10001 23 45{}", " ".repeat(300))),
        ];
        for update in malformed {
            assert!(temperature(&update).is_err(), "{update:?}");
        }
    }

    #[test]
    fn the_average_truncates_toward_zero() {
        assert_eq!(average(47, 2), 23);
        assert_eq!(average(-47, 2), -23);
        assert_eq!(average(-80 * 3, 3), -80);
    }
}
