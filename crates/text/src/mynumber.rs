//! My Number (個人番号): 12 digits, the last a check digit computed as the Ministry of
//! Internal Affairs' ordinance prescribes (平成26年総務省令第85号, 第5条):
//! with the first 11 digits P11..P1 (P1 rightmost), Qn = n + 1 for n ≤ 6 and n − 5 for
//! n ≥ 7, the remainder r = Σ Pn·Qn mod 11, and the check digit 0 if r ≤ 1, else 11 − r.

/// Whether `s` is 12 ASCII digits whose last digit is the right check digit.
pub fn is_valid_my_number(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if s.len() != 12 || digits.len() != 12 {
        return false;
    }
    check_digit(&digits[..11]) == digits[11]
}

/// The check digit for the first 11 digits, most significant first.
pub fn check_digit(first11: &[u32]) -> u32 {
    let sum: u32 = first11
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &p)| {
            let n = i as u32 + 1;
            p * if n <= 6 { n + 1 } else { n - 5 }
        })
        .sum();
    let r = sum % 11;
    if r <= 1 { 0 } else { 11 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_of_valid_and_invalid_numbers() {
        // Each valid number's check digit computed by hand from the ordinance's formula:
        // 12345678901: Σ = 1·2+0·3+9·4+8·5+7·6+6·7+5·2+4·3+3·4+2·5+1·6 = 212, 212 mod 11 = 3 → 8.
        assert!(is_valid_my_number("123456789018"));
        assert!(!is_valid_my_number("123456789012"));
        // All zeros: Σ = 0, r = 0 → check digit 0.
        assert!(is_valid_my_number("000000000000"));
        assert!(!is_valid_my_number("000000000001"));
        // 11 digits, 13 digits, full-width digits and separators are not My Numbers.
        for bad in ["12345678901", "1234567890181", "１２３４５６７８９０１８", "1234-5678-9018", "12345678901a"] {
            assert!(!is_valid_my_number(bad), "{bad}");
        }
    }

    #[test]
    fn exactly_one_check_digit_is_valid_for_any_eleven_digits() {
        for prefix in ["31415926535", "27182818284", "99999999999", "10000000000"] {
            let valid: Vec<u32> =
                (0..10).filter(|d| is_valid_my_number(&format!("{prefix}{d}"))).collect();
            assert_eq!(valid.len(), 1, "{prefix}: {valid:?}");
        }
    }
}
