//! Synthetic (fake) UK clinic clients for the demo clinics, the test kit and
//! the benchmark. Nothing here is real: names are drawn from lists of common
//! names, emails use the reserved `example.*` domains, mobiles are random
//! numbers in mobile ranges, and postcodes pair a real outward code with a
//! random inward code.
//!
//! The generator is deterministic: the same seed gives the same clients, so a
//! failing test or a benchmark run can be repeated exactly. It uses its own
//! small pseudo-random generator (`SplitMix64`), which is fine for fake data
//! and NOT suitable for secrets: [`Synthetic::password`] is only as secret as
//! the seed it was made from.
//!
//! Clients come out as raw form input (strings), so they go through the same
//! parsing as a receptionist's typing.

use jiff::ToSpan;
use jiff::civil::Date;

mod data;

use data::{
    ALLERGIES, BRITISH, CONDITIONS, EMAIL_DOMAINS, HERITAGES, HOUSE_NAMES, MEDICATIONS, MOBILE_PREFIXES,
    NON_LATIN_FEMALE, NON_LATIN_MALE, NOTES, PASSWORD_WORDS, PLACES, Place, STREET_KINDS, STREET_NAMES,
    TRANSLITERATIONS,
};

/// One synthetic client as raw form input (strings), so it goes through the
/// same parsing as a receptionist's typing.
#[derive(Clone, Debug)]
pub struct SyntheticClient {
    pub given_name: String,
    pub family_name: String,
    /// `YYYY-MM-DD`; the client is 18 to 85 years old on the `today` given.
    pub date_of_birth: String,
    /// Unique per generator; always at `example.com`, `example.org` or `example.net`.
    pub email: String,
    /// A UK mobile in national format, `07xxx xxxxxx`; unique per generator.
    pub mobile: String,
    pub address_line1: String,
    /// Often empty.
    pub address_line2: String,
    pub town: String,
    /// A real outward code of the town's postcode area and a random inward code.
    pub postcode: String,
    pub allergies: Vec<String>,
    pub medications: Vec<String>,
    pub conditions: Vec<String>,
    /// Mostly empty.
    pub notes: String,
}

/// A seeded generator of synthetic clients and passwords.
#[derive(Debug)]
pub struct Synthetic {
    /// `SplitMix64` state.
    state: u64,
    /// Clients made so far; numbers each client's email and mobile.
    clients: u64,
    /// Seed-derived key that shuffles mobile numbers between generators.
    mobile_key: u64,
}

impl Synthetic {
    #[must_use]
    pub fn new(seed: u64) -> Synthetic {
        let mut rng = Synthetic {
            state: seed,
            clients: 0,
            mobile_key: 0,
        };
        rng.mobile_key = rng.next_u64();
        rng
    }

    /// The next client, aged 18 to 85 on `today`.
    pub fn client(&mut self, today: Date) -> SyntheticClient {
        self.clients += 1;
        let number = self.clients;

        let female = self.percent(85);
        let (given_name, family_name) = self.name(female);
        let age = self.age();
        let date_of_birth = self.date_of_birth(today, age);
        let email = self.email(&given_name, &family_name, number);
        let mobile = self.mobile(number - 1);
        let (address_line1, address_line2) = self.street_address();
        let place = &PLACES[self.index(PLACES.len())];
        let postcode = self.postcode(place);

        let suits = |item: &&str| suits(item, female, age);
        let allergies = if self.percent(25) {
            let n = 1 + self.below(2);
            self.pick_distinct(ALLERGIES, n)
        } else {
            Vec::new()
        };
        let medications = if self.percent(30) {
            let pool: Vec<&str> = MEDICATIONS.iter().copied().filter(suits).collect();
            let n = 1 + self.below(3);
            self.pick_distinct(&pool, n)
        } else {
            Vec::new()
        };
        let conditions = if self.percent(20) {
            let pool: Vec<&str> = CONDITIONS.iter().copied().filter(suits).collect();
            let n = 1 + self.below(2);
            self.pick_distinct(&pool, n)
        } else {
            Vec::new()
        };
        let notes = if self.percent(12) {
            self.pick(NOTES).to_owned()
        } else {
            String::new()
        };

        SyntheticClient {
            given_name,
            family_name,
            date_of_birth,
            email,
            mobile,
            address_line1,
            address_line2,
            town: place.town.to_owned(),
            postcode,
            allergies,
            medications,
            conditions,
            notes,
        }
    }

    /// A random staff password: four random words from a built-in list joined
    /// by '-' plus 2 digits, e.g. "maple-orbit-velvet-crane-47" (at least 18
    /// characters).
    ///
    /// About 37 bits from the word list and digits, but only as unguessable
    /// as the seed: from a fixed seed, the same passwords come out every time.
    pub fn password(&mut self) -> String {
        let mut words: Vec<&str> = Vec::with_capacity(5);
        for _ in 0..4 {
            words.push(self.pick(PASSWORD_WORDS));
        }
        let digits = format!("{:02}", self.below(100));
        words.push(&digits);
        words.join("-")
    }

    /// Uniform integer in 0..n.
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0): the range 0..0 is empty");
        // Values below 2^64 mod n would make small results more likely than
        // large ones; drawing again when we get one keeps the result uniform.
        let reject = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            if x >= reject {
                return x % n;
            }
        }
    }

    /// `SplitMix64`: small, fast, and good enough for fake data.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// True `p` times in 100.
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// Like [`Self::pick`], but earlier entries are more likely (the first
    /// about twice as likely as average, the last hardly ever), as with real
    /// name frequencies. The name lists are in rough order of frequency.
    fn pick_common<T: Copy>(&mut self, items: &[T]) -> T {
        let a = self.index(items.len());
        let b = self.index(items.len());
        items[a.min(b)]
    }

    /// Up to `n` different entries of `items`, in random order.
    fn pick_distinct(&mut self, items: &[&str], n: u64) -> Vec<String> {
        let mut pool = items.to_vec();
        let mut picked = Vec::new();
        for _ in 0..n {
            if pool.is_empty() {
                break;
            }
            let i = self.index(pool.len());
            picked.push(pool.swap_remove(i).to_owned());
        }
        picked
    }

    fn name(&mut self, female: bool) -> (String, String) {
        let mut roll = self.below(1000);
        let Some(index) = HERITAGES.iter().position(|h| {
            if roll < h.per_mille {
                return true;
            }
            roll -= h.per_mille;
            false
        }) else {
            // The last few per mille: a name written in its own script.
            let (given, family) = self.pick(if female { NON_LATIN_FEMALE } else { NON_LATIN_MALE });
            return (given.to_owned(), family.to_owned());
        };
        let heritage = &HERITAGES[index];

        let (common, rare) = if female {
            (heritage.female, heritage.rare_female)
        } else {
            (heritage.male, heritage.rare_male)
        };
        let given = if !rare.is_empty() && self.percent(3) {
            self.pick(rare)
        } else {
            self.pick_common(common)
        };
        let family = if index > 0 && self.percent(10) {
            // Married into, or grew up with, a British family name.
            self.pick_common(BRITISH.family)
        } else if !heritage.rare_family.is_empty() && self.percent(5) {
            self.pick(heritage.rare_family)
        } else if !heritage.gendered_family.is_empty() && self.percent(40) {
            let (women, men) = self.pick(heritage.gendered_family);
            if female { women } else { men }
        } else {
            self.pick_common(heritage.family)
        };
        (given.to_owned(), family.to_owned())
    }

    /// Mostly 22 to 60, the bulk of an aesthetic clinic's clients; some
    /// anywhere from 18 to 85.
    fn age(&mut self) -> i64 {
        let years = if self.percent(75) {
            22 + self.below(39)
        } else {
            18 + self.below(68)
        };
        i64::try_from(years).unwrap_or(30)
    }

    /// Someone exactly `age` on `today`, whose birthday is not within a few
    /// days of `today` (so no age rule's leap-day reading can disagree).
    fn date_of_birth(&mut self, today: Date, age: i64) -> String {
        let days_past_birthday = 3 + i64::try_from(self.below(357)).unwrap_or(0);
        today
            .saturating_sub(age.years())
            .saturating_sub(days_past_birthday.days())
            .to_string()
    }

    fn email(&mut self, given: &str, family: &str, number: u64) -> String {
        let domain = self.pick(EMAIL_DOMAINS);
        let local = match (ascii_for_email(given), ascii_for_email(family)) {
            (Some(g), Some(f)) if !g.is_empty() && !f.is_empty() => match self.below(10) {
                0..=5 => format!("{g}.{f}.{number}"),
                6 | 7 => format!("{g}{f}{number}"),
                _ => format!("{}.{f}.{number}", &g[..1]),
            },
            _ => format!("client{number}"),
        };
        format!("{local}@{domain}")
    }

    /// The `n`th mobile (counting from 0). The last six digits are a
    /// shuffle of `n` mod 1,000,000 and the prefix moves on by one for each
    /// further million, so numbers are unique for the first
    /// 1,000,000 × (number of prefixes) clients: 400 million.
    fn mobile(&self, n: u64) -> String {
        const MILLION: u64 = 1_000_000;
        let block = n / MILLION;
        let within = n % MILLION;
        let suffix = shuffle_million(within, self.mobile_key);
        let count: u64 = MOBILE_PREFIXES.iter().map(|(lo, hi)| u64::from(hi - lo) + 1).sum();
        let mut index = (mix(within ^ self.mobile_key) % count + block) % count;
        let mut prefix = MOBILE_PREFIXES[0].0;
        for &(lo, hi) in MOBILE_PREFIXES {
            let len = u64::from(hi - lo) + 1;
            if index < len {
                prefix = lo + u16::try_from(index).unwrap_or(0);
                break;
            }
            index -= len;
        }
        format!("0{prefix} {suffix:06}")
    }

    fn street_address(&mut self) -> (String, String) {
        let number = if self.percent(70) {
            1 + self.below(60)
        } else {
            1 + self.below(240)
        };
        let line1 = format!("{number} {} {}", self.pick(STREET_NAMES), self.pick(STREET_KINDS));
        let line2 = match self.below(100) {
            0..=69 => String::new(),
            70..=89 => format!("Flat {}", 1 + self.below(24)),
            90..=94 => format!("Apartment {}", 1 + self.below(60)),
            _ => format!("{} House", self.pick(HOUSE_NAMES)),
        };
        (line1, line2)
    }

    fn postcode(&mut self, place: &Place) -> String {
        // The inward code's letters never include C, I, K, M, O or V.
        const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
        let district = self.pick(place.districts);
        let sector = self.below(10);
        let unit_a = char::from(self.pick(INWARD_LETTERS));
        let unit_b = char::from(self.pick(INWARD_LETTERS));
        format!("{}{district} {sector}{unit_a}{unit_b}", place.area)
    }
}

/// The `SplitMix64` output function: scrambles the bits of `z`.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A permutation of 0..1,000,000, chosen by `key`: a four-round Feistel
/// network on the two three-digit halves, so neighbouring `x` give unrelated
/// results.
fn shuffle_million(x: u64, key: u64) -> u64 {
    let (mut left, mut right) = (x / 1000 % 1000, x % 1000);
    for round in 0..4 {
        let f = mix(key ^ (round << 32) ^ right) % 1000;
        (left, right) = (right, (left + f) % 1000);
    }
    left * 1000 + right
}

/// Whether a medication or condition suits the client: pregnancy and the
/// pill only for women of an age for them, and so on.
fn suits(item: &str, female: bool, age: i64) -> bool {
    match item {
        "Pregnant" | "Breastfeeding" | "Combined oral contraceptive" | "Progestogen-only pill" => female && age <= 48,
        "HRT (estradiol gel)" => female && age >= 42,
        "Polycystic ovary syndrome" => female,
        _ => true,
    }
}

/// A name as an email address's local part: lowercase ASCII letters and
/// hyphens, accents taken off, apostrophes and spaces dropped. `None` if the
/// name has letters with no ASCII spelling here (other scripts).
fn ascii_for_email(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' => out.push(c),
            '-' if !out.is_empty() && !out.ends_with('-') => out.push('-'),
            '-' | '\'' | '\u{2019}' | ' ' => {}
            _ => out.push_str(TRANSLITERATIONS.iter().find(|(from, _)| *from == c)?.1),
        }
    }
    Some(out.trim_end_matches('-').to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use jiff::Unit;
    use jiff::civil::{Date, date};

    use super::*;

    const TODAY: Date = date(2025, 6, 15);

    fn clients(seed: u64, n: usize, today: Date) -> Vec<SyntheticClient> {
        let mut rng = Synthetic::new(seed);
        (0..n).map(|_| rng.client(today)).collect()
    }

    /// Everything but the lists, as one comparable string.
    fn key(c: &SyntheticClient) -> String {
        format!("{c:?}")
    }

    #[test]
    fn same_seed_same_clients_other_seed_other_clients() {
        let a: Vec<String> = clients(7, 50, TODAY).iter().map(key).collect();
        let b: Vec<String> = clients(7, 50, TODAY).iter().map(key).collect();
        let c: Vec<String> = clients(8, 50, TODAY).iter().map(key).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().zip(&c).filter(|(x, y)| x == y).count() < 5);
    }

    #[test]
    fn emails_and_mobiles_are_unique() {
        let all = clients(1, 20_000, TODAY);
        let emails: HashSet<&str> = all.iter().map(|c| c.email.as_str()).collect();
        let mobiles: HashSet<&str> = all.iter().map(|c| c.mobile.as_str()).collect();
        assert_eq!(emails.len(), all.len());
        assert_eq!(mobiles.len(), all.len());
    }

    #[test]
    fn emails_are_lowercase_ascii_at_reserved_domains() {
        for c in clients(2, 5_000, TODAY) {
            let (local, domain) = c.email.split_once('@').expect("an @");
            assert!(EMAIL_DOMAINS.contains(&domain), "{}", c.email);
            assert!(!local.is_empty() && !local.starts_with(['.', '-']) && !local.ends_with('.'));
            assert!(!local.contains(".."), "{}", c.email);
            assert!(
                local
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '.' || ch == '-'),
                "{}",
                c.email
            );
        }
    }

    #[test]
    fn mobiles_look_like_uk_mobiles() {
        for c in clients(3, 5_000, TODAY) {
            let m = c.mobile.as_bytes();
            assert_eq!(m.len(), 12, "{}", c.mobile);
            assert!(c.mobile.starts_with("07") && m[5] == b' ', "{}", c.mobile);
            assert!(!c.mobile.starts_with("07700 900"), "{}", c.mobile);
            assert!(
                m.iter().enumerate().all(|(i, b)| i == 5 || b.is_ascii_digit()),
                "{}",
                c.mobile
            );
        }
    }

    #[test]
    fn mobiles_stay_unique_past_a_million() {
        let rng = Synthetic::new(4);
        let ns = [
            0, 1, 999_999, 1_000_000, 1_000_001, 1_999_999, 2_000_000, 123_456, 1_123_456, 2_123_456,
        ];
        let mobiles: HashSet<String> = ns.iter().map(|&n| rng.mobile(n)).collect();
        assert_eq!(mobiles.len(), ns.len());
    }

    #[test]
    fn mobile_suffixes_are_a_permutation() {
        let mut seen = vec![false; 1_000_000];
        for x in 0..1_000_000 {
            let y = usize::try_from(shuffle_million(x, 0x5eed)).expect("small");
            assert!(!seen[y], "{x} -> {y} twice");
            seen[y] = true;
        }
    }

    #[test]
    fn no_pregnant_men_or_pensioners() {
        let mut rng = Synthetic::new(14);
        for _ in 0..5_000 {
            let c = rng.client(TODAY);
            if c.conditions.iter().any(|x| x == "Pregnant") {
                let dob: Date = c.date_of_birth.parse().expect("a date");
                let age = dob.until((Unit::Year, TODAY)).expect("span").get_years();
                assert!(age <= 48, "{c:?}");
            }
        }
        assert!(!suits("Pregnant", false, 30));
        assert!(!suits("Pregnant", true, 60));
        assert!(suits("Pregnant", true, 30));
        assert!(suits("Rosacea", false, 80));
    }

    #[test]
    fn adults_from_18_to_85() {
        for today in [TODAY, date(2024, 2, 29), date(2025, 1, 1), date(2025, 12, 31)] {
            for c in clients(5, 2_000, today) {
                let dob: Date = c.date_of_birth.parse().expect("a date");
                assert_eq!(c.date_of_birth.len(), 10);
                let age = dob.until((Unit::Year, today)).expect("span").get_years();
                assert!((18..=85).contains(&age), "{} is {age} on {today}", c.date_of_birth);
            }
        }
    }

    #[test]
    fn about_a_quarter_have_allergies() {
        let all = clients(6, 2_000, TODAY);
        let with = |f: fn(&SyntheticClient) -> bool| all.iter().filter(|c| f(c)).count() as f64 / all.len() as f64;
        let allergies = with(|c| !c.allergies.is_empty());
        assert!((0.15..=0.35).contains(&allergies), "{allergies}");
        let medications = with(|c| !c.medications.is_empty());
        assert!((0.2..=0.4).contains(&medications), "{medications}");
        let conditions = with(|c| !c.conditions.is_empty());
        assert!((0.1..=0.3).contains(&conditions), "{conditions}");
        assert!(
            all.iter()
                .all(|c| c.allergies.len() <= 2 && c.medications.len() <= 3 && c.conditions.len() <= 2)
        );
    }

    #[test]
    fn names_are_varied() {
        let all = clients(9, 20_000, TODAY);
        let given: HashSet<&str> = all.iter().map(|c| c.given_name.as_str()).collect();
        let family: HashSet<&str> = all.iter().map(|c| c.family_name.as_str()).collect();
        let pairs: HashSet<(&str, &str)> = all
            .iter()
            .map(|c| (c.given_name.as_str(), c.family_name.as_str()))
            .collect();
        assert!(
            given.len() > 150 && family.len() > 200,
            "{} {}",
            given.len(),
            family.len()
        );
        assert!(pairs.len() > 10_000, "{}", pairs.len());
        assert!(all.iter().any(|c| c.family_name.contains('\'')));
        assert!(all.iter().any(|c| c.family_name.contains('-')));
        assert!(all.iter().any(|c| !c.given_name.is_ascii()));
        assert!(
            all.iter()
                .any(|c| !c.family_name.chars().any(|ch| ch.is_ascii_alphabetic()))
        );
        assert!(
            all.iter()
                .all(|c| c.given_name.trim() == c.given_name && !c.given_name.is_empty())
        );
    }

    #[test]
    fn postcodes_match_their_towns() {
        for c in clients(10, 2_000, TODAY) {
            let (outward, inward) = c.postcode.split_once(' ').expect("a space");
            let area: String = outward.chars().take_while(char::is_ascii_uppercase).collect();
            let district: u8 = outward[area.len()..].parse().expect("a district number");
            assert!(
                PLACES
                    .iter()
                    .any(|p| p.town == c.town && p.area == area && p.districts.contains(&district)),
                "{} {}",
                c.town,
                c.postcode
            );
            let inward = inward.as_bytes();
            assert_eq!(inward.len(), 3);
            assert!(inward[0].is_ascii_digit());
            assert!(
                inward[1..]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() && !b"CIKMOV".contains(b))
            );
        }
    }

    #[test]
    fn addresses_are_filled_in() {
        for c in clients(11, 2_000, TODAY) {
            assert!(
                c.address_line1.starts_with(|ch: char| ch.is_ascii_digit()),
                "{}",
                c.address_line1
            );
            assert!(!c.town.is_empty());
        }
    }

    #[test]
    fn passwords_are_long_and_different() {
        let mut rng = Synthetic::new(12);
        let passwords: Vec<String> = (0..1_000).map(|_| rng.password()).collect();
        for p in &passwords {
            assert!(p.len() >= 12, "{p}");
            assert_eq!(p.split('-').count(), 5, "{p}");
        }
        assert_eq!(passwords.iter().collect::<HashSet<_>>().len(), passwords.len());
        assert!(PASSWORD_WORDS.len() >= 200);
        assert_eq!(
            PASSWORD_WORDS.iter().collect::<HashSet<_>>().len(),
            PASSWORD_WORDS.len()
        );
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Synthetic::new(13);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[usize::try_from(rng.below(7)).expect("small")] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1_200).contains(&n)), "{seen:?}");
        assert_eq!(rng.below(1), 0);
        assert!(rng.below(u64::MAX) < u64::MAX);
    }
}
