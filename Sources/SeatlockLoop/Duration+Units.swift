// Durations as the whole numbers Redis arguments, timers and histograms take.

extension Duration {
    /// Whole units, for Redis arguments, timers and histograms.
    public var wholeMilliseconds: Int64 { components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000 }
    public var wholeMicroseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    public var wholeNanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    public var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
