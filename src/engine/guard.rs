//! The personal-data guard (SPEC §4.12; seeds/001 §2.1, seeds/000 §2.1): free text that will
//! leave the daemon must not contain a Norwegian national identity number (fødselsnummer) or
//! D-number: 11 digits that pass both mod-11 check digits. Runs of exactly 11 digits are
//! checked, also when written `DDMMYY NNNNN` (one space or dash after the birth date).

const K1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

fn check_digit(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let s: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - s % 11 {
        11 => Some(0),
        10 => None,
        k => Some(k),
    }
}

/// Whether 11 digits pass both mod-11 checks.
pub fn is_identity_number(d: &[u32; 11]) -> bool {
    check_digit(&d[..9], &K1) == Some(d[9]) && check_digit(&d[..10], &K2) == Some(d[10])
}

/// Whether `text` contains something that looks like a national identity number or D-number.
pub fn contains_identity_number(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut i = 0;
    while i < n {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // Collect up to 11 digits, allowing one separator after the sixth.
        let mut digits = Vec::with_capacity(11);
        let mut j = i;
        while j < n && digits.len() < 11 {
            let c = chars[j];
            if let Some(d) = c.to_digit(10).filter(|_| c.is_ascii_digit()) {
                digits.push(d);
                j += 1;
            } else if digits.len() == 6
                && (c == ' ' || c == '-')
                && j + 1 < n
                && chars[j + 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        let ends_clean = j >= n || !chars[j].is_ascii_digit();
        if digits.len() == 11 && ends_clean {
            let arr: [u32; 11] = digits.clone().try_into().unwrap_or([0; 11]);
            if is_identity_number(&arr) {
                return true;
            }
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_numbers_are_caught() {
        // Synthetic numbers with valid check digits, computed for this test; not real
        // persons.
        for s in ["01010112377", "15076500565", "41010112360", "31039912360"] {
            let d: Vec<u32> = s.chars().map(|c| c.to_digit(10).unwrap()).collect();
            assert!(is_identity_number(&d.clone().try_into().unwrap()), "{s}");
        }
        assert!(contains_identity_number(
            "Pasient 15076500565 mangler epikrise"
        ));
        assert!(contains_identity_number("fnr: 150765 00565."));
        assert!(contains_identity_number("D-nr 41010112360"));
    }

    #[test]
    fn ordinary_numbers_pass() {
        assert!(!contains_identity_number(
            "Ring +47 73 00 00 00 ved spørsmål"
        ));
        assert!(!contains_identity_number("Sak 12345678901 hos leverandør")); // fails check digits
        assert!(!contains_identity_number("150765005651")); // 12 digits: not an identity number
        assert!(!contains_identity_number(
            "Kontaktet leverandør kl. 14:30, æøå"
        ));
    }
}
