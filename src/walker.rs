//! The one walker: runs a graph of steps, each as soon as the steps it needs have succeeded,
//! independent ones at once. A failed step stops only what needs it (directly or not); every
//! other branch goes on. What each step learns (an ARN, a URL) is known to the steps started
//! after it. Once the run is cancelled (Ctrl-C) no step starts; those running finish.
//!
//! `up` walks its plan this way, and `down` the same graph reversed.

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::cancel::Cancel;
use crate::state::Known;

type Run<'a> = Box<dyn FnOnce(Known) -> BoxFuture<'a, anyhow::Result<Known>> + Send + 'a>;

struct Step<'a> {
    label: String,
    needs: Vec<usize>,
    /// Runs once the steps it needs have ended, however they ended (it undoes what one of
    /// them changed for its own sake).
    always: bool,
    /// Not worth a line when it is skipped (it only checks what another step did).
    quiet: bool,
    run: Option<Run<'a>>,
}

/// How a step ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    Failed(anyhow::Error),
    /// Not started: a step it needs did not succeed (named).
    Skipped(String),
}

/// A graph of steps to walk.
#[derive(Default)]
pub struct Walk<'a> {
    steps: Vec<Step<'a>>,
}

/// What a walk did: each step's outcome, in the order they were added, and all it learnt.
pub struct Walked {
    pub outcomes: Vec<(String, Outcome)>,
    quiet: Vec<bool>,
    pub known: Known,
}

impl Walked {
    pub fn succeeded(&self) -> bool {
        self.outcomes
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Done))
    }

    /// Each failure, and each step a failure kept from starting, as a line.
    pub fn problems(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .zip(&self.quiet)
            .filter_map(|((label, o), quiet)| match o {
                Outcome::Done => None,
                Outcome::Failed(e) => Some(format!("{e:#}")),
                Outcome::Skipped(_) if *quiet => None,
                Outcome::Skipped(because) => Some(format!(
                    "{label}: not done, because {because} did not succeed"
                )),
            })
            .collect()
    }
}

impl<'a> Walk<'a> {
    pub fn new() -> Walk<'a> {
        Walk::default()
    }

    /// Add a step that runs once every step of `needs` (indices this returned) succeeded,
    /// with what is known then; it returns what it learnt.
    pub fn add(
        &mut self,
        label: impl Into<String>,
        needs: Vec<usize>,
        run: impl FnOnce(Known) -> BoxFuture<'a, anyhow::Result<Known>> + Send + 'a,
    ) -> usize {
        self.push(label.into(), needs, false, false, Box::new(run))
    }

    /// Add a step that only checks what others did: skipped, it goes unmentioned.
    pub fn quiet(
        &mut self,
        label: impl Into<String>,
        needs: Vec<usize>,
        run: impl FnOnce(Known) -> BoxFuture<'a, anyhow::Result<Known>> + Send + 'a,
    ) -> usize {
        self.push(label.into(), needs, false, true, Box::new(run))
    }

    /// Add a step that runs once every step of `needs` has ended, however it ended.
    pub fn always(
        &mut self,
        label: impl Into<String>,
        needs: Vec<usize>,
        run: impl FnOnce(Known) -> BoxFuture<'a, anyhow::Result<Known>> + Send + 'a,
    ) -> usize {
        self.push(label.into(), needs, true, false, Box::new(run))
    }

    fn push(
        &mut self,
        label: String,
        needs: Vec<usize>,
        always: bool,
        quiet: bool,
        run: Run<'a>,
    ) -> usize {
        self.steps.push(Step {
            label,
            needs,
            always,
            quiet,
            run: Some(run),
        });
        self.steps.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many steps there are (the next one added gets this index).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Walk the graph from what is `known` at the start.
    pub async fn run(mut self, mut known: Known, cancel: &Cancel) -> Walked {
        let n = self.steps.len();
        let mut outcomes: Vec<Option<Outcome>> = (0..n).map(|_| None).collect();
        let mut running = FuturesUnordered::new();
        loop {
            for i in 0..n {
                if outcomes[i].is_some() || self.steps[i].run.is_none() {
                    continue;
                }
                let step = &self.steps[i];
                let ended = step.needs.iter().all(|&d| outcomes[d].is_some());
                if !ended {
                    continue;
                }
                let failed = step
                    .needs
                    .iter()
                    .find(|&&d| !matches!(outcomes[d], Some(Outcome::Done)));
                if let (Some(&d), false) = (failed, step.always) {
                    outcomes[i] = Some(Outcome::Skipped(root_cause(&self.steps, &outcomes, d)));
                    continue;
                }
                if !step.always {
                    if let Err(e) = cancel.check(&step.label) {
                        outcomes[i] = Some(Outcome::Failed(e));
                        continue;
                    }
                }
                let run = self.steps[i].run.take().expect("started once");
                let fut = run(known.clone());
                running.push(async move { (i, fut.await) });
            }
            if outcomes.iter().all(Option::is_some) {
                break;
            }
            match running.next().await {
                Some((i, Ok(learnt))) => {
                    known.merge(learnt);
                    outcomes[i] = Some(Outcome::Done);
                }
                Some((i, Err(e))) => outcomes[i] = Some(Outcome::Failed(e)),
                None => {
                    // Nothing runs and nothing can start: the steps left wait on each other.
                    for (i, o) in outcomes.iter_mut().enumerate() {
                        if o.is_none() {
                            *o = Some(Outcome::Failed(anyhow::anyhow!(
                                "internal: {} waits on a step that waits on it",
                                self.steps[i].label
                            )));
                        }
                    }
                    break;
                }
            }
        }
        Walked {
            quiet: self.steps.iter().map(|s| s.quiet).collect(),
            outcomes: self
                .steps
                .into_iter()
                .zip(outcomes)
                .map(|(s, o)| (s.label, o.expect("every step ended")))
                .collect(),
            known,
        }
    }
}

/// The step whose failure kept step `i` from starting: itself if it failed, else what kept it.
fn root_cause(steps: &[Step<'_>], outcomes: &[Option<Outcome>], i: usize) -> String {
    match &outcomes[i] {
        Some(Outcome::Skipped(because)) => because.clone(),
        _ => steps[i].label.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use std::sync::{Arc, Mutex};

    fn learn(url: &str) -> Known {
        Known {
            function_url: Some(url.to_string()),
            ..Known::default()
        }
    }

    #[tokio::test]
    async fn steps_run_after_what_they_need_and_see_what_it_learnt() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut walk = Walk::new();
        let o = order.clone();
        let a = walk.add("a", vec![], move |_| {
            async move {
                tokio::task::yield_now().await;
                o.lock().unwrap().push("a");
                Ok(learn("https://u/"))
            }
            .boxed()
        });
        let o = order.clone();
        let b = walk.add("b", vec![], move |_| {
            async move {
                o.lock().unwrap().push("b");
                Ok(Known::default())
            }
            .boxed()
        });
        let o = order.clone();
        walk.add("c", vec![a, b], move |known| {
            async move {
                assert_eq!(known.function_url.as_deref(), Some("https://u/"));
                o.lock().unwrap().push("c");
                Ok(Known::default())
            }
            .boxed()
        });
        let walked = walk.run(Known::default(), &Cancel::default()).await;
        assert!(walked.succeeded(), "{:?}", walked.problems());
        let order = order.lock().unwrap().clone();
        assert_eq!(order.last(), Some(&"c"));
        assert_eq!(walked.known.function_url.as_deref(), Some("https://u/"));
    }

    #[tokio::test]
    async fn a_failure_skips_only_what_needs_it_and_always_steps_still_run() {
        let mut walk = Walk::new();
        let bad = walk.add("bad", vec![], |_| async { anyhow::bail!("boom") }.boxed());
        let after = walk.add("after bad", vec![bad], |_| {
            async { Ok(Known::default()) }.boxed()
        });
        walk.add("after that", vec![after], |_| {
            async { Ok(Known::default()) }.boxed()
        });
        walk.add("independent", vec![], |_| {
            async { Ok(Known::default()) }.boxed()
        });
        walk.always("cleanup", vec![bad], |_| {
            async { Ok(Known::default()) }.boxed()
        });
        let walked = walk.run(Known::default(), &Cancel::default()).await;
        let got: Vec<(String, String)> = walked
            .outcomes
            .iter()
            .map(|(l, o)| {
                let o = match o {
                    Outcome::Done => "done".to_string(),
                    Outcome::Failed(e) => format!("failed: {e}"),
                    Outcome::Skipped(b) => format!("skipped: {b}"),
                };
                (l.clone(), o)
            })
            .collect();
        let want = [
            ("bad", "failed: boom"),
            ("after bad", "skipped: bad"),
            ("after that", "skipped: bad"),
            ("independent", "done"),
            ("cleanup", "done"),
        ];
        assert_eq!(
            got,
            want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec()
        );
        assert!(walked.problems()[1].contains("because bad did not succeed"));
    }

    #[tokio::test]
    async fn nothing_starts_once_cancelled() {
        let cancel = Cancel::default();
        let c = cancel.clone();
        let mut walk = Walk::new();
        let first = walk.add("first", vec![], move |_| {
            async move {
                c.request();
                Ok(Known::default())
            }
            .boxed()
        });
        walk.add("second", vec![first], |_| {
            async { panic!("started after Ctrl-C") }.boxed()
        });
        let walked = walk.run(Known::default(), &cancel).await;
        assert!(matches!(walked.outcomes[0].1, Outcome::Done));
        let Outcome::Failed(e) = &walked.outcomes[1].1 else {
            panic!("{:?}", walked.outcomes[1].1)
        };
        assert!(e.to_string().contains("interrupted (Ctrl-C) before second"));
    }
}
