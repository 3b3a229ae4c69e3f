//! Generated data: a realistic province whose records reproduce a report's figures
//! (organisations named after Hậu Giang's districts and towns, members with Vietnamese names),
//! deterministic for a seed. The demonstration serves it; the benchmark loads it.

pub mod dataset;
pub mod earlier_ratings;
pub mod figures;
pub mod files;
pub mod names;
pub mod serve;

/// Where `party-records demo` keeps its province unless told otherwise.
pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo.db";

/// The seed of the demonstration's data set.
pub const DEFAULT_SEED: u64 = 2024;

/// SplitMix64: a small, fast generator whose sequence for a seed never changes, so a seed
/// gives the same data set on every machine and every version of the dependencies.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One of `items`, chosen by the weights beside them.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| *w as u64).sum();
        let mut pick = self.below(total);
        for (item, weight) in items {
            if pick < *weight as u64 {
                return item;
            }
            pick -= *weight as u64;
        }
        &items[items.len() - 1].0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_of_a_seed_never_changes() {
        let mut rng = Rng::new(42);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            [
                13679457532755275413,
                2949826092126892291,
                5139283748462763858
            ]
        );
    }

    #[test]
    fn ranges_hold() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            assert!(rng.below(10) < 10);
            let v = rng.between(-3, 3);
            assert!((-3..=3).contains(&v));
        }
        let heavy = [("a", 99), ("b", 1)];
        let a = (0..1000).filter(|_| *rng.weighted(&heavy) == "a").count();
        assert!(a > 950, "{a}");
    }
}
