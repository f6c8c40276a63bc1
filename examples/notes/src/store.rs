//! The notes and the accounts, in memory.

use std::sync::Arc;

use std::sync::RwLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// One note.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// Its id (in its URL).
    pub id: u64,
    /// The title (the page's `h1`).
    pub title: String,
    /// The text.
    pub body: String,
    /// Who wrote it.
    pub author: String,
}

/// The notes, shared by every circuit (a service). Cheap to clone.
#[derive(Clone, Debug)]
pub struct NoteStore {
    notes: Arc<RwLock<Vec<Note>>>,
}

impl NoteStore {
    /// The store with three notes.
    pub fn seeded() -> Self {
        let seed = [
            (
                "Welcome to Tether notes",
                "Every page here is a route of one circuit: links swap the page without a reload.",
            ),
            ("Shopping list", "Milk, bread, coffee."),
            ("Ideas", "Write the router docs; try the back button."),
        ];
        let notes = seed
            .iter()
            .enumerate()
            .map(|(i, (title, body))| Note {
                id: i as u64 + 1,
                title: (*title).to_owned(),
                body: (*body).to_owned(),
                author: "demo".to_owned(),
            })
            .collect();
        NoteStore {
            notes: Arc::new(RwLock::new(notes)),
        }
    }

    /// Every note, oldest first.
    pub fn all(&self) -> Vec<Note> {
        self.notes.read().expect("lock").clone()
    }

    /// The note with `id`.
    pub fn get(&self, id: u64) -> Option<Note> {
        self.notes
            .read()
            .expect("lock")
            .iter()
            .find(|n| n.id == id)
            .cloned()
    }

    /// Whether a note has this title (ignoring case and surrounding spaces).
    pub fn title_taken(&self, title: &str) -> bool {
        let title = title.trim();
        self.notes
            .read()
            .expect("lock")
            .iter()
            .any(|n| n.title.eq_ignore_ascii_case(title))
    }

    /// Stores a new note and returns its id.
    pub fn add(&self, title: &str, body: &str, author: &str) -> u64 {
        let mut notes = self.notes.write().expect("lock");
        let id = notes.iter().map(|n| n.id).max().unwrap_or(0) + 1;
        notes.push(Note {
            id,
            title: title.trim().to_owned(),
            body: body.to_owned(),
            author: author.to_owned(),
        });
        id
    }
}

/// User names with their Argon2id password hashes (PHC strings).
#[derive(Clone, Debug)]
pub struct Accounts {
    hashes: Arc<Vec<(String, String)>>,
}

impl Accounts {
    /// The demo accounts: `demo`/`demo` and `ann`/`ann`.
    pub fn demo() -> Self {
        let hashes = [("demo", "demo"), ("ann", "ann")]
            .iter()
            .map(|(user, password)| ((*user).to_owned(), hash_password(password)))
            .collect();
        Accounts {
            hashes: Arc::new(hashes),
        }
    }

    /// Whether `password` is `user`'s.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let Some((_, hash)) = self.hashes.iter().find(|(name, _)| name == user) else {
            return false;
        };
        PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }
}

/// An Argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashes any password with the default parameters")
        .to_string()
}
