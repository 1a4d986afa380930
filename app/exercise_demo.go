package app

import "fmt"

// demoScenario is the demo community's exercise: the first part of the
// fifth joint exercise's ransomware scenario
// (examples/exercises/tokyo2020-joint-exercise-5-ransomware.yaml), two
// injects.
const demoScenario = `format: 1
name: demo-je5-part1
title: {ja: 第5回一斉演習 第一部（デモ）, en: "Fifth joint exercise, part 1 (demo)"}
start: {date: 2021-07-27, time: "13:30", zone: Asia/Tokyo}
injects:
  - id: p1-1
    part: 1
    offset: 0m
    audience: community
    type: alert
    tag: caution
    tlp: GREEN
    title: {ja: 複数の重要サービス事業者のオフィスネットワークで不正プログラムを確認, en: Malware found in the office networks of several critical-service operators}
    body: {ja: 【演習】監視を強化し、不審な挙動は「そうだんの窓口」へ報告してください。, en: "[EXERCISE] Strengthen monitoring and report anything suspicious through the consultation window."}
  - id: p1-2
    part: 1
    offset: 15m
    audience: {kinds: [critical-service]}
    type: incident
    tag: important
    tlp: AMBER
    title: {ja: 【状況付与】重要サービス提供システムで不具合、ファイルが暗号化, en: "[Inject] Fault in your service system: its files are encrypted"}
    body: {ja: 【演習】手順書に沿って対応し、インシデントとして報告してください。, en: "[EXERCISE] Follow your procedures and report it as an incident."}
expect:
  - {kind: critical-service, category: ransomware, after: p1-2, within: 1h}
`

// demoExercise adds a finished exercise to the demo community: the duty
// officer plays demoScenario; power (a critical-service operator's member)
// reads both injects and reports the expected ransomware incident; rail
// reads only the first and reports nothing; then the exercise is stopped.
// buildDemo calls it once the members have joined (power: "Power SOC
// Analyst", rail: "Railway IT Lead"). Everything it writes is
// exercise-marked: the demo's real feed and board are as they were.
func demoExercise(centre, power, rail *App) error {
	sc, err := DecodeScenario([]byte(demoScenario))
	if err != nil {
		return fmt.Errorf("demo exercise: %w", err)
	}
	all := []*App{centre, power, rail}
	if _, err := centre.StartExercise(sc, centre.cfg.Now(), 1); err != nil {
		return fmt.Errorf("demo exercise: %w", err)
	}
	var posts []PostSummary
	for _, in := range sc.Injects {
		p, err := centre.PlayInject(sc.Name, in)
		if err != nil {
			return fmt.Errorf("demo exercise: %w", err)
		}
		posts = append(posts, p)
	}
	if err := exchange(all); err != nil {
		return err
	}
	for _, r := range []struct {
		a     *App
		posts []PostSummary
	}{{power, posts}, {rail, posts[:1]}} {
		for _, p := range r.posts {
			if _, err := r.a.MarkRead(p.ID); err != nil {
				return fmt.Errorf("demo exercise: %w", err)
			}
		}
		if _, err := r.a.FlushReads(true); err != nil {
			return fmt.Errorf("demo exercise: %w", err)
		}
	}
	if _, err := power.ReportIncident(IncidentDraft{Category: CatRansomware, Affects: AffectsNo, Exercise: sc.Name,
		Title: "【演習】サービス提供システムのファイルが暗号化 / [EXERCISE] Service system files encrypted"}); err != nil {
		return fmt.Errorf("demo exercise: %w", err)
	}
	if err := exchange(all); err != nil {
		return err
	}
	if _, err := centre.StopExercise(sc.Name, "demo: part 1 over"); err != nil {
		return fmt.Errorf("demo exercise: %w", err)
	}
	return exchange(all)
}
