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

const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

/// Latin letters with accents, as email addresses usually spell them.
const TRANSLITERATIONS: &[(char, &str)] = &[
    ('à', "a"),
    ('á', "a"),
    ('â', "a"),
    ('ã', "a"),
    ('ä', "a"),
    ('å', "a"),
    ('ā', "a"),
    ('ą', "a"),
    ('æ', "ae"),
    ('ç', "c"),
    ('ć', "c"),
    ('č', "c"),
    ('ď', "d"),
    ('è', "e"),
    ('é', "e"),
    ('ê', "e"),
    ('ë', "e"),
    ('ē', "e"),
    ('ę', "e"),
    ('ě', "e"),
    ('ğ', "g"),
    ('ì', "i"),
    ('í', "i"),
    ('î', "i"),
    ('ï', "i"),
    ('ī', "i"),
    ('ı', "i"),
    ('ł', "l"),
    ('ñ', "n"),
    ('ń', "n"),
    ('ň', "n"),
    ('ò', "o"),
    ('ó', "o"),
    ('ô', "o"),
    ('õ', "o"),
    ('ö', "o"),
    ('ø', "o"),
    ('ō', "o"),
    ('œ', "oe"),
    ('ř', "r"),
    ('ś', "s"),
    ('š', "s"),
    ('ş', "s"),
    ('ß', "ss"),
    ('ť', "t"),
    ('ù', "u"),
    ('ú', "u"),
    ('û', "u"),
    ('ü', "u"),
    ('ū', "u"),
    ('ů', "u"),
    ('ý', "y"),
    ('ÿ', "y"),
    ('ź', "z"),
    ('ż', "z"),
    ('ž', "z"),
];

/// Names of one background, in rough order of frequency.
struct Heritage {
    /// How many clients in 1000 have a name of this background.
    per_mille: u64,
    female: &'static [&'static str],
    male: &'static [&'static str],
    family: &'static [&'static str],
    /// Family names with a women's and a men's form.
    gendered_family: &'static [(&'static str, &'static str)],
    /// Names with accents, apostrophes or hyphens, rarer than the others
    /// (3% of given names and 5% of family names, when there are any).
    rare_female: &'static [&'static str],
    rare_male: &'static [&'static str],
    rare_family: &'static [&'static str],
}

/// English, Scottish, Welsh and Irish names; the first background.
const BRITISH: Heritage = Heritage {
    per_mille: 790,
    female: &[
        "Sarah",
        "Emma",
        "Laura",
        "Rebecca",
        "Charlotte",
        "Emily",
        "Sophie",
        "Jessica",
        "Hannah",
        "Lucy",
        "Amy",
        "Claire",
        "Nicola",
        "Gemma",
        "Rachel",
        "Katie",
        "Lauren",
        "Olivia",
        "Amelia",
        "Grace",
        "Chloe",
        "Megan",
        "Helen",
        "Louise",
        "Victoria",
        "Natalie",
        "Jennifer",
        "Kelly",
        "Michelle",
        "Joanne",
        "Lisa",
        "Karen",
        "Susan",
        "Julie",
        "Alison",
        "Elizabeth",
        "Catherine",
        "Alice",
        "Eleanor",
        "Isla",
        "Ava",
        "Mia",
        "Freya",
        "Ella",
        "Evie",
        "Poppy",
        "Lily",
        "Holly",
        "Georgia",
        "Harriet",
        "Hayley",
        "Danielle",
        "Samantha",
        "Stephanie",
        "Caroline",
        "Joanna",
        "Deborah",
        "Tracey",
        "Jade",
        "Abigail",
        "Phoebe",
        "Imogen",
        "Rosie",
        "Daisy",
        "Millie",
        "Zoe",
        "Naomi",
        "Margaret",
        "Patricia",
        "Janet",
        "Pauline",
        "Lorraine",
        "Beverley",
        "Kirsty",
        "Fiona",
        "Ailsa",
        "Eilidh",
        "Morag",
        "Bethan",
        "Cerys",
        "Rhian",
        "Ffion",
        "Carys",
        "Seren",
        "Niamh",
        "Aoife",
        "Ciara",
        "Orla",
        "Maeve",
        "Saoirse",
        "Siobhan",
        "Sian",
        "Bronwen",
        "Rhiannon",
    ],
    male: &[
        "James",
        "David",
        "Daniel",
        "Thomas",
        "Matthew",
        "Christopher",
        "Michael",
        "Andrew",
        "Mark",
        "Paul",
        "Richard",
        "Robert",
        "Oliver",
        "Jack",
        "Harry",
        "William",
        "George",
        "Steven",
        "Stephen",
        "Ian",
        "Adam",
        "Luke",
        "Samuel",
        "Joseph",
        "Alexander",
        "Edward",
        "Henry",
        "Charlie",
        "Jamie",
        "Craig",
        "Scott",
        "Ben",
        "Liam",
        "Connor",
        "Callum",
        "Ewan",
        "Fraser",
        "Hamish",
        "Gareth",
        "Rhys",
        "Dylan",
        "Owen",
        "Declan",
        "Ciaran",
        "Patrick",
        "Sean",
        "Noah",
        "Leo",
        "Alfie",
    ],
    family: &[
        "Smith",
        "Jones",
        "Williams",
        "Taylor",
        "Brown",
        "Davies",
        "Evans",
        "Wilson",
        "Thomas",
        "Johnson",
        "Roberts",
        "Robinson",
        "Thompson",
        "Wright",
        "Walker",
        "White",
        "Edwards",
        "Hughes",
        "Green",
        "Hall",
        "Lewis",
        "Harris",
        "Clarke",
        "Jackson",
        "Wood",
        "Turner",
        "Martin",
        "Cooper",
        "Hill",
        "Ward",
        "Morris",
        "Moore",
        "Clark",
        "Lee",
        "King",
        "Baker",
        "Harrison",
        "Morgan",
        "Allen",
        "James",
        "Scott",
        "Phillips",
        "Watson",
        "Davis",
        "Parker",
        "Price",
        "Bennett",
        "Young",
        "Griffiths",
        "Mitchell",
        "Kelly",
        "Cook",
        "Carter",
        "Richardson",
        "Bailey",
        "Collins",
        "Bell",
        "Shaw",
        "Murphy",
        "Miller",
        "Cox",
        "Richards",
        "Marshall",
        "Anderson",
        "Simpson",
        "Ellis",
        "Adams",
        "Wilkinson",
        "Foster",
        "Chapman",
        "Powell",
        "Webb",
        "Rogers",
        "Gray",
        "Mason",
        "Hunt",
        "Campbell",
        "Matthews",
        "Owen",
        "Palmer",
        "Holmes",
        "Mills",
        "Barnes",
        "Knight",
        "Lloyd",
        "Butler",
        "Russell",
        "Barker",
        "Fisher",
        "Stevens",
        "Jenkins",
        "Murray",
        "Dixon",
        "Harvey",
        "Graham",
        "Pearson",
        "Fletcher",
        "Walsh",
        "Gibson",
        "Howard",
        "Andrews",
        "Stewart",
        "Elliott",
        "Reynolds",
        "Saunders",
        "Payne",
        "Fox",
        "Ford",
        "Pearce",
        "Day",
        "Brooks",
        "West",
        "Lawrence",
        "Cole",
        "Atkinson",
        "Bradley",
        "Spencer",
        "Dawson",
        "Ball",
        "Burton",
        "Watts",
        "Rose",
        "Booth",
        "Perry",
        "Ryan",
        "Grant",
        "Wells",
        "Armstrong",
        "Francis",
        "Rees",
        "Hayes",
        "Hart",
        "Hudson",
        "Newman",
        "Barrett",
        "Webster",
        "Hunter",
        "Gregory",
        "Carr",
        "Lowe",
        "Page",
        "Marsh",
        "Riley",
        "Dunn",
        "Woods",
        "Parsons",
        "Berry",
        "Stone",
        "Reid",
        "Holland",
        "Hawkins",
        "Harding",
        "Porter",
        "Robertson",
        "Newton",
        "Kennedy",
        "Williamson",
        "Bird",
        "Gardner",
        "Lane",
        "Bates",
        "Henderson",
        "Parry",
        "Burgess",
        "Bishop",
        "Walton",
        "Burns",
        "Nicholson",
        "Shepherd",
        "Ross",
        "Byrne",
        "Hamilton",
        "McDonald",
        "Robson",
        "Hopkins",
        "Harper",
        "McCarthy",
        "Johnston",
        "Gordon",
        "Doyle",
        "Wallace",
        "Burke",
        "Pritchard",
        "Lynch",
        "Quinn",
        "Cunningham",
        "Thomson",
        "Ferguson",
        "Fraser",
        "MacDonald",
        "MacLeod",
        "McKenzie",
        "Sinclair",
        "Docherty",
        "Gallagher",
        "Fitzgerald",
        "Llewellyn",
        "Pugh",
        "Vaughan",
        "Bowen",
        "Meredith",
    ],
    gendered_family: &[],
    rare_female: &[
        "Zoë",
        "Siân",
        "Chloë",
        "Róisín",
        "Siobhán",
        "Gráinne",
        "Anne-Marie",
        "Mary-Kate",
        "Renée",
        "Eimear",
    ],
    rare_male: &["Seán", "Dónal", "Jean-Paul", "Ruairí"],
    rare_family: &[
        "O'Neill",
        "O'Brien",
        "O'Connor",
        "O'Sullivan",
        "O'Reilly",
        "D'Arcy",
        "Smith-Jones",
        "Lloyd-Davies",
        "Carter-Lewis",
        "Ashworth-Hale",
        "Ó Súilleabháin",
        "Mac Giolla Phádraig",
    ],
};

/// The backgrounds, British first; what is left of 1000 after them is names
/// in other scripts.
const HERITAGES: &[Heritage] = &[
    BRITISH,
    // South Asian.
    Heritage {
        per_mille: 80,
        female: &[
            "Priya", "Aisha", "Ayesha", "Fatima", "Zara", "Sana", "Anjali", "Pooja", "Simran", "Harpreet", "Gurpreet",
            "Nisha", "Sunita", "Anita", "Rukhsana", "Nusrat", "Shabana", "Farah", "Mehreen", "Amrita", "Kiran",
            "Nadia", "Shreya", "Sadia",
        ],
        male: &[
            "Mohammed", "Rahul", "Arjun", "Imran", "Sanjay", "Vikram", "Amir", "Hamza", "Ravi", "Jaspreet",
        ],
        family: &[
            "Patel",
            "Khan",
            "Ahmed",
            "Hussain",
            "Ali",
            "Singh",
            "Kaur",
            "Begum",
            "Shah",
            "Akhtar",
            "Sharma",
            "Iqbal",
            "Rahman",
            "Chowdhury",
            "Malik",
            "Mahmood",
            "Gupta",
            "Kumar",
            "Mistry",
            "Chauhan",
            "Sandhu",
            "Gill",
            "Dhillon",
            "Bhatt",
            "Desai",
            "Joshi",
            "Islam",
            "Uddin",
            "Bibi",
            "Parmar",
        ],
        gendered_family: &[],
        rare_female: &[],
        rare_male: &[],
        rare_family: &["D'Souza", "D'Costa", "D'Mello"],
    },
    // Polish.
    Heritage {
        per_mille: 30,
        female: &[
            "Anna",
            "Katarzyna",
            "Agnieszka",
            "Magdalena",
            "Joanna",
            "Małgorzata",
            "Zofia",
            "Aleksandra",
            "Natalia",
            "Karolina",
            "Ewa",
            "Monika",
            "Justyna",
            "Paulina",
        ],
        male: &[
            "Łukasz",
            "Piotr",
            "Tomasz",
            "Krzysztof",
            "Paweł",
            "Michał",
            "Jakub",
            "Marcin",
        ],
        family: &[
            "Nowak",
            "Wójcik",
            "Kowalczyk",
            "Woźniak",
            "Mazur",
            "Krawczyk",
            "Kaczmarek",
            "Zając",
            "Król",
            "Wróbel",
            "Pawlak",
            "Michalak",
            "Sikora",
            "Wieczorek",
            "Adamczyk",
            "Dudek",
        ],
        gendered_family: &[
            ("Kowalska", "Kowalski"),
            ("Wiśniewska", "Wiśniewski"),
            ("Lewandowska", "Lewandowski"),
            ("Zielińska", "Zieliński"),
            ("Szymańska", "Szymański"),
            ("Dąbrowska", "Dąbrowski"),
            ("Kozłowska", "Kozłowski"),
            ("Jankowska", "Jankowski"),
        ],
        rare_female: &[],
        rare_male: &[],
        rare_family: &[],
    },
    // Nigerian and Ghanaian.
    Heritage {
        per_mille: 25,
        female: &[
            "Chioma",
            "Ngozi",
            "Adaeze",
            "Folake",
            "Funmilayo",
            "Oluwaseun",
            "Temitope",
            "Blessing",
            "Precious",
            "Amaka",
            "Yetunde",
            "Bukola",
            "Abena",
            "Akosua",
            "Efua",
        ],
        male: &[
            "Chinedu", "Emeka", "Tunde", "Segun", "Obinna", "Babajide", "Kwame", "Kofi",
        ],
        family: &[
            "Okafor", "Adeyemi", "Okonkwo", "Eze", "Nwosu", "Adebayo", "Olawale", "Ogunleye", "Balogun", "Okoro",
            "Adeleke", "Obi", "Bello", "Afolabi", "Mensah", "Owusu", "Boateng", "Asante",
        ],
        gendered_family: &[],
        rare_female: &[],
        rare_male: &[],
        rare_family: &[],
    },
    // Chinese, as written in English.
    Heritage {
        per_mille: 20,
        female: &[
            "Mei", "Jing", "Yan", "Ling", "Hui", "Fang", "Xin", "Jenny", "Vivian", "Grace", "Mei Ling", "Xiaoling",
        ],
        male: &["Wei", "Jun", "Hao", "Ming", "Kevin", "Jason"],
        family: &[
            "Wang", "Li", "Zhang", "Chen", "Liu", "Chan", "Wong", "Cheung", "Lau", "Lam", "Ng", "Ho", "Leung", "Yang",
            "Huang", "Zhao", "Wu", "Zhou", "Tang", "Yip",
        ],
        gendered_family: &[],
        rare_female: &[],
        rare_male: &[],
        rare_family: &[],
    },
    // Greek and Greek Cypriot.
    Heritage {
        per_mille: 12,
        female: &[
            "Maria",
            "Eleni",
            "Sofia",
            "Katerina",
            "Georgia",
            "Dimitra",
            "Anastasia",
            "Despina",
            "Androulla",
        ],
        male: &[
            "Andreas",
            "Nikos",
            "Giorgos",
            "Dimitris",
            "Konstantinos",
            "Yiannis",
            "Costas",
        ],
        family: &[
            "Georgiou",
            "Christodoulou",
            "Charalambous",
            "Constantinou",
            "Ioannou",
            "Demetriou",
            "Nicolaou",
            "Kyriacou",
            "Panayiotou",
            "Savva",
        ],
        gendered_family: &[
            ("Papadopoulou", "Papadopoulos"),
            ("Pappa", "Pappas"),
            ("Nikolaidou", "Nikolaidis"),
            ("Georgiadou", "Georgiadis"),
        ],
        rare_female: &[],
        rare_male: &[],
        rare_family: &[],
    },
    // Arabic.
    Heritage {
        per_mille: 15,
        female: &[
            "Mariam", "Layla", "Noor", "Yasmin", "Huda", "Rania", "Salma", "Amal", "Leila", "Hana", "Amira", "Dina",
        ],
        male: &["Omar", "Ahmed", "Youssef", "Khalid", "Hassan", "Karim", "Tariq"],
        family: &[
            "Haddad", "Khoury", "Hassan", "Mansour", "Nasser", "Saleh", "Abdullah", "Aziz", "Farouk", "Hamdan",
            "Ibrahim", "Darwish", "Said", "Al-Sayed", "Al-Masri", "El-Amin",
        ],
        gendered_family: &[],
        rare_female: &[],
        rare_male: &[],
        rare_family: &[],
    },
    // Other European and Turkish.
    Heritage {
        per_mille: 20,
        female: &[
            "Giulia",
            "Francesca",
            "Chiara",
            "Lucía",
            "María",
            "Inês",
            "Beatriz",
            "Ioana",
            "Elena",
            "Andreea",
            "Elif",
            "Zeynep",
            "Ayşe",
            "Camille",
            "Amélie",
            "Hélène",
            "Léa",
            "Ingrid",
            "Katharina",
            "Agnė",
        ],
        male: &[
            "Marco", "Luca", "Javier", "João", "Andrei", "Mehmet", "Emre", "Pierre", "Matthias",
        ],
        family: &[
            "Rossi",
            "Romano",
            "Esposito",
            "Ricci",
            "García",
            "Fernández",
            "Martínez",
            "López",
            "Rodrigues",
            "Silva",
            "Ferreira",
            "Santos",
            "Popescu",
            "Ionescu",
            "Yılmaz",
            "Kaya",
            "Demir",
            "Öztürk",
            "Dubois",
            "Lefèvre",
            "Müller",
            "Schneider",
            "Jansen",
            "Andersson",
            "Kazlauskas",
        ],
        gendered_family: &[],
        rare_female: &[],
        rare_male: &[],
        rare_family: &["da Silva", "dos Santos", "De Luca", "D'Angelo"],
    },
];

/// Names written in their own script: (given, family).
const NON_LATIN_FEMALE: &[(&str, &str)] = &[
    ("Σοφία", "Παπαδοπούλου"),
    ("Ελένη", "Γεωργίου"),
    ("Анна", "Иванова"),
    ("Ольга", "Смирнова"),
    ("Олена", "Шевченко"),
    ("秀英", "王"),
    ("芳", "张"),
    ("美玲", "陳"),
    ("مريم", "حسن"),
    ("فاطمة", "علي"),
    ("さくら", "佐藤"),
    ("지은", "김"),
    ("נועה", "כהן"),
];
const NON_LATIN_MALE: &[(&str, &str)] = &[
    ("Νίκος", "Παπαδόπουλος"),
    ("Дмитрий", "Петров"),
    ("伟", "李"),
    ("عمر", "خليل"),
];

/// The ranges of five-digit prefixes `07xxx` (written `7xxx`) that mobiles
/// are given from. All are mobile ranges in libphonenumber's metadata; Ofcom's drama
/// range (07700 900000–900999) is not among them.
const MOBILE_PREFIXES: &[(u16, u16)] = &[
    (7400, 7449),
    (7460, 7499),
    (7510, 7519),
    (7530, 7599),
    (7710, 7779),
    (7800, 7819),
    (7840, 7899),
    (7900, 7909),
    (7920, 7929),
    (7940, 7999),
];

/// A town and the real districts of its postcode area.
struct Place {
    town: &'static str,
    area: &'static str,
    districts: &'static [u8],
}

const fn place(town: &'static str, area: &'static str, districts: &'static [u8]) -> Place {
    Place { town, area, districts }
}

/// Towns and real districts of their postcode areas. London's W, SW, EC and
/// WC districts 1 are split (W1A, SW1A, …), so they are left out.
const PLACES: &[Place] = &[
    place("London", "W", &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]),
    place(
        "London",
        "SW",
        &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
    ),
    place(
        "London",
        "N",
        &[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
        ],
    ),
    place(
        "London",
        "E",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18],
    ),
    place(
        "London",
        "SE",
        &[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
        ],
    ),
    place("London", "NW", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    place(
        "Birmingham",
        "B",
        &[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
        ],
    ),
    place(
        "Manchester",
        "M",
        &[1, 2, 3, 4, 8, 9, 11, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 40],
    ),
    place(
        "Leeds",
        "LS",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    ),
    place(
        "Liverpool",
        "L",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 24, 25],
    ),
    place("Sheffield", "S", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17]),
    place("Bristol", "BS", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16]),
    place("Newcastle upon Tyne", "NE", &[1, 2, 3, 4, 5, 6, 7, 12, 13, 15]),
    place("Nottingham", "NG", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 11]),
    place("Leicester", "LE", &[1, 2, 3, 4, 5]),
    place("Coventry", "CV", &[1, 2, 3, 4, 5, 6]),
    place("Brighton", "BN", &[1, 2]),
    place("Hove", "BN", &[3]),
    place("Southampton", "SO", &[14, 15, 16, 17, 18, 19]),
    place("Portsmouth", "PO", &[1, 2, 3, 4, 5, 6]),
    place("Oxford", "OX", &[1, 2, 3, 4]),
    place("Cambridge", "CB", &[1, 2, 3, 4, 5]),
    place("York", "YO", &[1, 10, 23, 24, 26, 30, 31, 32]),
    place("Norwich", "NR", &[1, 2, 3, 4, 5, 6, 7]),
    place("Plymouth", "PL", &[1, 2, 3, 4, 5, 6, 7]),
    place("Exeter", "EX", &[1, 2, 4]),
    place("Bath", "BA", &[1, 2]),
    place("Reading", "RG", &[1, 2, 4, 6, 30, 31]),
    place("Cheltenham", "GL", &[50, 51, 52, 53]),
    place("Harrogate", "HG", &[1, 2, 3]),
    place("Chester", "CH", &[1, 2, 3, 4]),
    place("Guildford", "GU", &[1, 2, 4]),
    place("St Albans", "AL", &[1, 2, 3, 4]),
    place("Bournemouth", "BH", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    place("Hull", "HU", &[1, 2, 3, 4, 5, 6, 7, 8, 9]),
    place("Stockport", "SK", &[1, 2, 3, 4, 5, 6, 7]),
    place("Bradford", "BD", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    place("Derby", "DE", &[1, 3, 21, 22, 23, 24]),
    place("Cardiff", "CF", &[3, 5, 10, 11, 14, 15, 23, 24]),
    place("Swansea", "SA", &[1, 2, 3, 4, 5, 6, 7]),
    place("Newport", "NP", &[10, 19, 20]),
    place("Wrexham", "LL", &[11, 12, 13, 14]),
    place(
        "Glasgow",
        "G",
        &[
            1, 2, 3, 4, 5, 11, 12, 13, 14, 15, 20, 21, 22, 23, 31, 32, 33, 34, 40, 41, 42, 43, 44, 51,
        ],
    ),
    place(
        "Edinburgh",
        "EH",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    ),
    place("Aberdeen", "AB", &[10, 11, 12, 15, 16, 24, 25]),
    place("Dundee", "DD", &[1, 2, 3, 4, 5]),
    place("Inverness", "IV", &[1, 2, 3]),
    place(
        "Belfast",
        "BT",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    ),
    place("Lisburn", "BT", &[27, 28]),
    place("Londonderry", "BT", &[47, 48]),
];

const STREET_NAMES: &[&str] = &[
    "Elm",
    "Oak",
    "Ash",
    "Beech",
    "Willow",
    "Birch",
    "Hawthorn",
    "Chestnut",
    "Maple",
    "Rowan",
    "Church",
    "Station",
    "Mill",
    "Park",
    "Victoria",
    "Albert",
    "Queen's",
    "King's",
    "Manor",
    "Highfield",
    "Springfield",
    "Windsor",
    "York",
    "Cambridge",
    "Orchard",
    "Meadow",
    "Kingsway",
    "Richmond",
    "Grosvenor",
    "Clarence",
    "Belmont",
    "Fairfield",
    "Woodland",
    "Riverside",
    "Brook",
    "Chapel",
    "Castle",
    "Market",
    "Hillside",
    "Newton",
    "Priory",
    "Abbey",
    "St Mary's",
    "St John's",
    "Nelson",
    "Trafalgar",
    "Cavendish",
    "Lansdowne",
];

const STREET_KINDS: &[&str] = &[
    "Road", "Street", "Lane", "Avenue", "Close", "Grove", "Drive", "Way", "Crescent", "Gardens", "Place", "Terrace",
    "Court", "Mews", "Rise", "View",
];

const HOUSE_NAMES: &[&str] = &[
    "Alder", "Regent", "Mill", "Harbour", "Linden", "Stanley", "Waverley", "Ashton",
];

const ALLERGIES: &[&str] = &[
    "Penicillin",
    "Latex",
    "Lidocaine",
    "Hyaluronidase",
    "Egg",
    "Nuts",
    "Peanuts",
    "Chlorhexidine",
    "Sulfonamides",
    "Aspirin",
    "Ibuprofen",
    "Codeine",
    "Adhesive plasters",
    "Nickel",
    "Bee stings",
    "Shellfish",
    "Iodine",
];

const MEDICATIONS: &[&str] = &[
    "Warfarin 5 mg daily",
    "Apixaban 5 mg twice daily",
    "Isotretinoin 20 mg daily",
    "Aspirin 75 mg daily",
    "Levothyroxine 50 mcg daily",
    "Sertraline 50 mg daily",
    "Citalopram 20 mg daily",
    "Combined oral contraceptive",
    "Progestogen-only pill",
    "Metformin 500 mg twice daily",
    "Ramipril 5 mg daily",
    "Amlodipine 5 mg daily",
    "Atorvastatin 20 mg at night",
    "Omeprazole 20 mg daily",
    "Salbutamol inhaler as needed",
    "Cetirizine 10 mg daily",
    "Ibuprofen 400 mg as needed",
    "Propranolol 40 mg as needed",
    "HRT (estradiol gel)",
    "Doxycycline 100 mg daily",
    "Spironolactone 50 mg daily",
    "Prednisolone 5 mg daily",
    "Semaglutide 1 mg weekly",
    "Vitamin D 1000 units daily",
    "Fish oil supplement",
];

const CONDITIONS: &[&str] = &[
    "Keloid scarring",
    "Myasthenia gravis",
    "Rosacea",
    "Type 2 diabetes",
    "Type 1 diabetes",
    "Cold sores (HSV-1)",
    "Pregnant",
    "Breastfeeding",
    "Eczema",
    "Psoriasis",
    "Asthma",
    "Hypertension",
    "Hypothyroidism",
    "Acne",
    "Melasma",
    "Vitiligo",
    "Rheumatoid arthritis",
    "Lupus (SLE)",
    "Bleeding disorder",
    "Epilepsy",
    "Migraine",
    "Polycystic ovary syndrome",
];

const NOTES: &[&str] = &[
    "Prefers afternoon appointments",
    "Prefers morning appointments",
    "Needle-phobic",
    "Feels faint with needles; treat lying down",
    "Bruises easily",
    "Hard of hearing: text rather than call",
    "Wheelchair user: ground-floor room please",
    "Wants a natural look",
    "Referred by a friend",
    "Previous filler elsewhere; brings own records",
    "Anxious about pain: offer numbing cream",
    "Works nights: evening appointments only",
    "Likes a chaperone present",
    "Prefers a female practitioner",
];

/// Words for passwords: common, easy to type and to read aloud.
const PASSWORD_WORDS: &[&str] = &[
    "acorn", "admiral", "amber", "anchor", "apple", "apricot", "arbour", "arrow", "aspen", "atlas", "autumn", "badger",
    "bamboo", "banjo", "barley", "basil", "beacon", "beaver", "berry", "biscuit", "blossom", "bramble", "breeze",
    "bridge", "bronze", "buckle", "bugle", "butter", "cabin", "cactus", "camel", "canal", "candle", "canyon", "carbon",
    "cargo", "castle", "cedar", "cello", "chalk", "cherry", "chess", "cider", "cinder", "citrus", "clover", "cobalt",
    "comet", "copper", "coral", "cotton", "crane", "crater", "cricket", "crystal", "cumin", "dahlia", "daisy", "delta",
    "denim", "desert", "dingo", "dolphin", "dragon", "drift", "eagle", "ember", "emerald", "falcon", "fennel", "fern",
    "ferry", "fiddle", "finch", "fjord", "flannel", "flint", "forest", "fossil", "fox", "galaxy", "garnet", "gecko",
    "ginger", "glacier", "granite", "gravel", "harbour", "harvest", "hazel", "heather", "hedge", "heron", "hickory",
    "honey", "horizon", "iris", "island", "ivory", "jacket", "jasmine", "jigsaw", "juniper", "kayak", "kernel",
    "kettle", "kiwi", "lagoon", "lantern", "larch", "lemon", "lilac", "linen", "lobster", "lotus", "lyric", "magnet",
    "mango", "maple", "marble", "meadow", "melon", "meteor", "mint", "mirror", "mosaic", "moss", "nectar", "needle",
    "nutmeg", "oasis", "ocean", "olive", "onyx", "opal", "orbit", "orchid", "osprey", "otter", "paddle", "panda",
    "papaya", "parrot", "pebble", "pepper", "piano", "pigeon", "pilot", "pine", "planet", "plum", "polar", "poppy",
    "prism", "puffin", "quartz", "quill", "quince", "rabbit", "radar", "raven", "reef", "ribbon", "river", "robin",
    "rocket", "saffron", "salmon", "sandal", "satin", "scarlet", "shadow", "sierra", "silver", "sketch", "sparrow",
    "spruce", "squash", "stone", "summit", "sunset", "swallow", "tango", "teapot", "thistle", "thunder", "tiger",
    "timber", "toffee", "topaz", "tulip", "tundra", "turnip", "umber", "valley", "vanilla", "velvet", "violet",
    "walnut", "walrus", "willow", "window", "winter", "wombat", "yarrow", "yonder", "zebra", "zephyr", "zinnia",
];

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
