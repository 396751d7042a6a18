//! `decisionctl loop ...`: the intraday loop's schedule, its kill switch, and the replay of one
//! trading day with its decisions report.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Duration;
use temporalio_client::schedules::{
    CreateScheduleOptions, ScheduleAction, ScheduleCalendarSpec, ScheduleError,
    ScheduleOverlapPolicy, ScheduleSpec,
};
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowIdConflictPolicy,
    WorkflowStartOptions,
};
use torghut_workflows::IntradayLoop;
use torghut_workflows::intraday_loop::{LoopConfig, LoopInput, LoopSummary, ReplayClock};

pub fn read_config(path: &Path) -> Result<LoopConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config: LoopConfig = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a loop configuration", path.display()))?;
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(config)
}

/// Starts the loop each trading weekday at the window's start (New York time), or every
/// `every` for tests and demos. The loop itself skips holidays and stops at the window's end.
fn spec(config: &LoopConfig, every: Option<Duration>) -> Result<ScheduleSpec> {
    if let Some(every) = every {
        return Ok(ScheduleSpec::from_interval(every));
    }
    let (hour, minute) = config
        .window
        .start
        .split_once(':')
        .context("window.start: expected HH:MM")?;
    let mut spec = ScheduleSpec::from_calendar(
        ScheduleCalendarSpec::builder()
            .hour(
                hour.parse::<u32>()
                    .context("window.start: hour")?
                    .to_string(),
            )
            .minute(
                minute
                    .parse::<u32>()
                    .context("window.start: minute")?
                    .to_string(),
            )
            .day_of_week("1-5".to_owned())
            .build(),
    );
    spec.timezone_name = "America/New_York".to_owned();
    Ok(spec)
}

/// Creates the schedule, or brings an existing one to exactly this configuration: running the
/// command twice is the same as running it once.
pub async fn upsert_schedule(
    client: &Client,
    schedule_id: &str,
    task_queue: &str,
    config: LoopConfig,
    every: Option<Duration>,
    paused: bool,
) -> Result<&'static str> {
    let spec = spec(&config, every)?;
    let action = ScheduleAction::start_workflow(
        IntradayLoop::run,
        LoopInput {
            config,
            carry: Default::default(),
        },
        task_queue,
        torghut_workflows::ids::intraday_loop(schedule_id),
    );
    let created = client
        .create_schedule(
            schedule_id,
            CreateScheduleOptions::builder()
                .action(action.clone())
                .spec(spec.clone())
                .overlap_policy(ScheduleOverlapPolicy::Skip)
                .paused(paused)
                .note("torghut intraday loop (decisionctl loop schedule)".to_owned())
                .build(),
        )
        .await;
    match created {
        Ok(_) => Ok("created"),
        Err(ScheduleError::Rpc(status)) if status.code() == tonic::Code::AlreadyExists => {
            client
                .get_schedule_handle(schedule_id)
                .update(
                    move |u| {
                        u.set_spec(spec);
                        u.set_action(action);
                        u.set_paused(paused);
                        u.set_overlap_policy(ScheduleOverlapPolicy::Skip);
                    },
                    Default::default(),
                )
                .await
                .with_context(|| format!("updating schedule {schedule_id}"))?;
            Ok("updated")
        }
        Err(e) => Err(e).with_context(|| format!("creating schedule {schedule_id}")),
    }
}

/// Flips the kill switch of running loops (they then start nothing new; decisions in flight
/// finish). `target` is a schedule id (every loop it is running) or a loop's workflow id.
/// Returns the workflow ids it reached. Future sessions of a schedule are stopped by pausing it.
pub async fn set_kill_switch(client: &Client, target: &str, on: bool) -> Result<Vec<String>> {
    let ids = match client
        .get_schedule_handle(target)
        .describe(Default::default())
        .await
    {
        Ok(d) => d
            .running_actions()
            .into_iter()
            .map(|a| a.workflow_id)
            .collect(),
        Err(ScheduleError::Rpc(status)) if status.code() == tonic::Code::NotFound => {
            vec![target.to_owned()]
        }
        Err(e) => return Err(e).with_context(|| format!("describing schedule {target}")),
    };
    if ids.is_empty() {
        bail!("schedule {target} is running no loop right now");
    }
    for id in &ids {
        client
            .get_workflow_handle::<IntradayLoop>(id.clone())
            .execute_update(
                IntradayLoop::set_kill_switch,
                on,
                WorkflowExecuteUpdateOptions::default(),
            )
            .await
            .with_context(|| format!("setting the kill switch of {id}"))?;
    }
    Ok(ids)
}

/// Runs the loop over one past session of the embedded data (as-of clock advancing minute by
/// minute) and returns its summary.
pub async fn replay_day(
    client: &Client,
    task_queue: &str,
    mut config: LoopConfig,
    date: chrono::NaiveDate,
) -> Result<(String, LoopSummary)> {
    let ny = chrono_tz::America::New_York;
    let at = |hhmm: &str| -> Result<String> {
        let t = chrono::NaiveTime::parse_from_str(hhmm, "%H:%M")
            .with_context(|| format!("window: {hhmm:?} is not HH:MM"))?;
        let local = date
            .and_time(t)
            .and_local_timezone(ny)
            .single()
            .with_context(|| format!("{date} {hhmm} is not a single New York time"))?;
        Ok(local
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    config.replay = Some(ReplayClock {
        start: at(&config.window.start)?,
        end: at(&config.window.end)?,
    });
    config.cadence_seconds = 60;
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("loop configuration: {e}"))?;
    let workflow_id = format!(
        "intraday-loop-replay-{date}-{}",
        uuid::Uuid::new_v4().simple()
    );
    let handle = client
        .start_workflow(
            IntradayLoop::run,
            LoopInput {
                config,
                carry: Default::default(),
            },
            WorkflowStartOptions::new(task_queue.to_owned(), workflow_id.clone())
                .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
                .build(),
        )
        .await
        .context("starting the replay loop")?;
    let summary = handle
        .get_result(WorkflowGetResultOptions::default())
        .await
        .with_context(|| format!("waiting for {workflow_id}"))?;
    if summary.stopped.starts_with("invalid_config") {
        bail!("the loop refused its configuration: {}", summary.stopped);
    }
    Ok((workflow_id, summary))
}

/// The decisions report of a replayed day, in Markdown.
pub fn report(
    date: chrono::NaiveDate,
    workflow_id: &str,
    watchlist: &[String],
    s: &LoopSummary,
) -> String {
    let mut out = format!(
        "# Intraday loop replay: {date}\n\nLoop run `{workflow_id}` over {} (as-of clock advancing \
         minute by minute through the session window), stopped: `{}`.\n\n",
        watchlist.join(", "),
        s.stopped
    );
    out.push_str("| measure | count |\n| --- | --- |\n");
    for (k, v) in [
        ("ticks (minutes)", s.ticks),
        ("trigger signals", s.triggers),
        ("decisions started", s.decisions_started),
        ("joined an existing decision", s.joined_existing),
        ("skipped by the kill switch", s.skipped_kill_switch),
        ("trigger reads failed", s.read_failures),
    ] {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out.push_str("\n## Decisions by outcome\n\n| outcome | count |\n| --- | --- |\n");
    for (k, v) in &s.by_outcome {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out.push_str("\n## Vetoes and errors, by reason\n\n| reason | count |\n| --- | --- |\n");
    if s.veto_reasons.is_empty() {
        out.push_str("| (none) | 0 |\n");
    }
    for (k, v) in &s.veto_reasons {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out
}

/// Parses `on`/`off`.
pub fn on_off(raw: &str) -> Result<bool> {
    match raw {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        other => bail!("expected on or off, got {other:?}"),
    }
}
