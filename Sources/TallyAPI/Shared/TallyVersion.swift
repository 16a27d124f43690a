/// The release, as `tallyd version` and the dialects' server documents name it.
public enum TallyVersion {
    public static let current = "0.1.0"
}
